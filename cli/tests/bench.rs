//! `multimem bench` on a tiny configuration: every approach runs and its records agree.

use std::process::Command;

#[test]
fn every_approach_runs_and_reports_consistently() {
    let plot = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("rss.svg");
    let out = Command::new(env!("CARGO_BIN_EXE_multimem"))
        .args(["bench", "--sizes", "256", "--proofs", "3", "--fail-every", "3", "--mixed", "--json", "--plot"])
        .arg(&plot)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<serde_json::Value> =
        String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let reading = lines.iter().find_map(|r| r.get("rss_reading")).and_then(|r| r.as_str()).expect("the bench prints its reading of the plot").to_owned();
    let (records, modules): (Vec<_>, Vec<_>) =
        lines.into_iter().filter(|r| r.get("rss_reading").is_none()).partition(|r| r.get("approach").is_some());
    let names: Vec<&str> = records.iter().map(|r| r["approach"].as_str().unwrap()).collect();
    let all = ["baseline", "recreate", "in-place", "view", "private-view", "fork", "proxy", "process", "fork-process"];
    assert_eq!(names, all);
    for r in &records {
        assert_eq!(r["proofs"], 3, "{r}");
        assert_eq!(r["ok"], 2, "the third proof traps under every approach: {r}");
        assert_eq!(r["verified"], 2, "{r}");
        assert!(r["median_wall_ms"].as_f64().unwrap() > 0.0, "{r}");
    }
    assert_eq!(records[0]["ratio_to_baseline"], 1.0);
    assert!(records[1]["memory1_peak_pages"].as_u64().unwrap() > 0, "recreate proves in memory 1");
    let svg = std::fs::read_to_string(&plot).unwrap();
    let texts: Vec<&str> = svg.split("<text").skip(1).filter_map(|t| Some(t.split_once('>')?.1.split_once("</text>")?.0.trim())).collect();
    for name in all {
        assert!(texts.contains(&name), "the legend names {name}: {texts:?}");
        if name != "baseline" {
            assert!(reading.contains(name), "the reading covers {name}: {reading}");
        }
    }
    assert!(texts.contains(&"RSS after the proof (MiB)") && texts.contains(&"proof (number)"), "axis labels with units: {texts:?}");
    let module_names: Vec<&str> = modules.iter().map(|m| m["module"].as_str().unwrap()).collect();
    assert_eq!(module_names, ["original", "portable", "view"]);
    assert_eq!(modules[0]["size_ratio"], 1.0);
    for m in &modules {
        assert!(m["code_bytes"].as_u64().unwrap() > 0 && m["compile_ms"].as_f64().unwrap() > 0.0, "{m}");
    }
}

#[test]
fn startup_measures_each_strategy_compiled_and_precompiled() {
    let out = Command::new(env!("CARGO_BIN_EXE_multimem"))
        .args(["bench", "--startup", "--approaches", "baseline,view", "--sizes", "256", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let rows: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let names: Vec<&str> = rows.iter().map(|r| r["strategy"].as_str().unwrap()).collect();
    assert_eq!(names, ["baseline", "view"]);
    for r in &rows {
        assert!(r["artefact_bytes"].as_u64().unwrap() > 0, "{r}");
        for way in ["compiled", "precompiled"] {
            let start = &r[way];
            assert!(start["load_ms"].as_f64().unwrap() > 0.0, "{r}");
            // Setup puts the keys in memory 0 (under the view, in the memfd that RSS alone misses).
            assert!(start["rss_set_up"].as_u64().unwrap() > start["rss_loaded"].as_u64().unwrap(), "{way}: {r}");
        }
    }
    assert_eq!(rows[0]["rss_loaded_over_baseline"]["precompiled"], 0, "the baseline against itself");
}
