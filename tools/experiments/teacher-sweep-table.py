#!/usr/bin/env python3
"""The table of tools/experiments/teacher-sweep.sh: per teacher error rate, the teacher's accuracy, SFT, GRPO and DPO
greedy accuracy on test, each method's paired difference against SFT, and the share of the gap between SFT on the
flawed teacher and SFT on the truth that it recovers.

    tools/experiments/teacher-sweep-table.py OUT_DIR [--truth RUN_DIR]

OUT_DIR holds one lake per rate (rate-<r>/runs/rate-<r>/<stage>/report.json). --truth names the run folder of an
SFT on the true solutions (its eval-sft-test report gives the accuracy a perfect teacher reaches); without it the
gap column is left out (or give the accuracy itself with --truth-accuracy).
"""
import argparse
import json
import pathlib


def report(run: pathlib.Path, stage: str):
    p = run / stage / "report.json"
    return json.loads(p.read_text()) if p.exists() else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--truth")
    ap.add_argument("--truth-accuracy", type=float, help="SFT on the true solutions' test accuracy, when measured elsewhere")
    a = ap.parse_args()
    truth = a.truth_accuracy
    if a.truth:
        t = report(pathlib.Path(a.truth), "eval-sft-test")
        truth = t["greedy_accuracy"] if t else None
    print("| error rate | teacher correct | SFT | GRPO (paired, z) | GRPO gap recovered | DPO (paired, z) | DPO gap recovered |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for lake in sorted(pathlib.Path(a.out).glob("rate-*")):
        if not lake.is_dir():
            continue
        run = lake / "runs" / lake.name
        data, sft = report(run, "data"), report(run, "eval-sft-test")
        if not data or not sft:
            continue
        cells = [lake.name[len("rate-"):], "%.1f %%" % (100 * data["teacher"]["accuracy"]),
                 "%.1f %%" % (100 * sft["greedy_accuracy"])]
        for stage in ("eval-grpo-test", "eval-dpo-test"):
            r = report(run, stage)
            if not r:
                cells += ["-", "-"]
                continue
            p = r.get("paired", {})
            cells.append("%.1f %% (%+.1f, %.1f)" % (100 * r["greedy_accuracy"], 100 * p.get("difference", float("nan")),
                                                   p.get("z", float("nan"))))
            gap = (truth - sft["greedy_accuracy"]) if truth is not None else None
            cells.append("%.2f" % ((r["greedy_accuracy"] - sft["greedy_accuracy"]) / gap) if gap else "-")
        print("| " + " | ".join(cells) + " |")
    if truth is not None:
        print("\nSFT on the true solutions: %.1f %%" % (100 * truth))


if __name__ == "__main__":
    main()
