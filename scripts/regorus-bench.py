"""Times regorus (gordon-to-regorus 0.13.0 from .peers/python) on the policies that
CompareEngines exported: per evaluation, set the input JSON and evaluate the rule, as Warden and
OPA are timed. Writes {file: {p50_us, p99_us, runs}} to DIR/regorus.json."""
import json, os, sys, time

folder = sys.argv[1]
seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 2.0
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".peers", "python"))
import regorus  # noqa: E402

results = {}
for item in json.load(open(os.path.join(folder, "manifest.json"))):
    base = item["file"]
    engine = regorus.Engine()
    engine.add_policy(base + ".rego", open(os.path.join(folder, base + ".rego")).read())
    engine.add_data_json(open(os.path.join(folder, base + ".data.json")).read())
    text = open(os.path.join(folder, base + ".input.json")).read()
    engine.set_input_json(text)
    answer = engine.eval_rule(item["query"])
    if answer is not True:
        sys.exit(f"regorus answered {answer!r} for {item['name']}")
    def once():
        engine.set_input_json(text)
        engine.eval_rule(item["query"])
    end = time.perf_counter() + 0.3
    while time.perf_counter() < end:
        once()
    samples = []
    end = time.perf_counter_ns() + int(seconds * 1e9)
    while True:
        start = time.perf_counter_ns()
        once()
        stop = time.perf_counter_ns()
        samples.append((stop - start) / 1000)
        if stop >= end:
            break
    samples.sort()
    results[base] = {"p50_us": samples[len(samples) // 2], "p99_us": samples[len(samples) * 99 // 100], "runs": len(samples)}
    print(f"  regorus {item['name']}: p50 {results[base]['p50_us']:.2f} µs ({len(samples)} runs)")
json.dump(results, open(os.path.join(folder, "regorus.json"), "w"))
