//! Callers before callees: the waves in which a module-wide analysis can
//! visit functions so that each is visited after everything that calls it.
//!
//! Functions that call each other (a strongly connected component of the call
//! graph) share a wave; a wave holds every component whose callers are all in
//! earlier waves.

use rustc_hash::FxHashMap;
use walrus::FunctionId;

/// The waves of `functions`, where `callees(f)` are the functions `f` calls
/// that depend on their callers (others may be left out).
pub fn waves<'a>(functions: &[FunctionId], callees: impl Fn(FunctionId) -> &'a [FunctionId]) -> Vec<Vec<FunctionId>> {
    let node: FxHashMap<FunctionId, usize> = functions.iter().enumerate().map(|(i, &f)| (f, i)).collect();
    let edges: Vec<Vec<usize>> = functions.iter().map(|&f| callees(f).iter().filter_map(|c| node.get(c).copied()).collect()).collect();
    let component = components(&edges);
    let count = component.iter().max().map_or(0, |&c| c + 1);
    let mut members = vec![Vec::new(); count];
    for (v, &c) in component.iter().enumerate() {
        members[c].push(v);
    }
    // Kahn's algorithm on the condensation, one wave at a time.
    let mut callers = vec![0usize; count];
    for (v, out) in edges.iter().enumerate() {
        for &w in out {
            if component[w] != component[v] {
                callers[component[w]] += 1;
            }
        }
    }
    let mut wave: Vec<usize> = (0..count).filter(|&c| callers[c] == 0).collect();
    let mut waves = Vec::new();
    while !wave.is_empty() {
        let mut next = Vec::new();
        for &c in &wave {
            for &v in &members[c] {
                for &w in &edges[v] {
                    if component[w] != c {
                        callers[component[w]] -= 1;
                        if callers[component[w]] == 0 {
                            next.push(component[w]);
                        }
                    }
                }
            }
        }
        waves.push(wave.iter().flat_map(|&c| &members[c]).map(|&v| functions[v]).collect());
        wave = next;
    }
    waves
}

/// Tarjan's strongly connected components, without recursion (call chains
/// run thousands deep): each node's component.
fn components(edges: &[Vec<usize>]) -> Vec<usize> {
    let n = edges.len();
    let mut t = Tarjan { index: vec![UNSEEN; n], low: vec![0; n], on_stack: vec![false; n], component: vec![UNSEEN; n], ..Default::default() };
    for root in 0..n {
        if t.index[root] != UNSEEN {
            continue;
        }
        t.enter(root);
        while let Some(&(v, e)) = t.path.last() {
            if let Some(&w) = edges[v].get(e) {
                t.path.last_mut().unwrap().1 += 1;
                if t.index[w] == UNSEEN {
                    t.enter(w);
                } else if t.on_stack[w] {
                    t.low[v] = t.low[v].min(t.index[w]);
                }
            } else {
                t.leave(v);
            }
        }
    }
    t.component
}

const UNSEEN: usize = usize::MAX;

#[derive(Default)]
struct Tarjan {
    index: Vec<usize>,
    low: Vec<usize>,
    on_stack: Vec<bool>,
    component: Vec<usize>,
    stack: Vec<usize>,
    /// The depth-first path: each node and the next of its edges to follow.
    path: Vec<(usize, usize)>,
    next_index: usize,
    next_component: usize,
}

impl Tarjan {
    fn enter(&mut self, v: usize) {
        self.index[v] = self.next_index;
        self.low[v] = self.next_index;
        self.next_index += 1;
        self.stack.push(v);
        self.on_stack[v] = true;
        self.path.push((v, 0));
    }

    fn leave(&mut self, v: usize) {
        self.path.pop();
        if let Some(&(u, _)) = self.path.last() {
            self.low[u] = self.low[u].min(self.low[v]);
        }
        if self.low[v] == self.index[v] {
            while let Some(w) = self.stack.pop() {
                self.on_stack[w] = false;
                self.component[w] = self.next_component;
                if w == v {
                    break;
                }
            }
            self.next_component += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: usize) -> Vec<FunctionId> {
        let mut module = walrus::Module::default();
        (0..n).map(|_| walrus::FunctionBuilder::new(&mut module.types, &[], &[]).finish(vec![], &mut module.funcs)).collect()
    }

    #[test]
    fn callers_come_first_and_cycles_share_a_wave() {
        // 0 -> 1 -> {2 <-> 3} -> 4, 0 -> 4, 5 alone, 6 calls itself.
        let f = ids(7);
        let calls: Vec<Vec<FunctionId>> = vec![vec![f[1], f[4]], vec![f[2]], vec![f[3]], vec![f[2], f[4]], vec![], vec![], vec![f[6]]];
        let waves = waves(&f, |g| &calls[f.iter().position(|&h| h == g).unwrap()]);
        let wave_of = |g: FunctionId| waves.iter().position(|w| w.contains(&g)).unwrap();
        assert_eq!(waves.iter().map(Vec::len).sum::<usize>(), 7);
        assert!(wave_of(f[0]) < wave_of(f[1]));
        assert!(wave_of(f[1]) < wave_of(f[2]));
        assert_eq!(wave_of(f[2]), wave_of(f[3]));
        assert!(wave_of(f[3]) < wave_of(f[4]));
        assert_eq!(wave_of(f[5]), 0);
        assert_eq!(wave_of(f[6]), 0);
    }
}
