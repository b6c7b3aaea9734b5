"""Paired comparison of two evaluated runs on the same test tracks: accuracies side by side and an exact
McNemar test at track level and, when both cut the tracks into the same segments, at segment level.

McNemar's exact test: of the items exactly one run gets right, ``b`` favour run A and ``c`` run B; under the
null hypothesis (equal accuracy) ``b ~ Binomial(b + c, 1/2)``; the p-value is scipy's two-sided binomial test.
It uses the pairing that two accuracies alone throw away (Dietterich 1998 recommends it for one test split).
"""
from __future__ import annotations

import json
from pathlib import Path

from scipy.stats import binomtest

from gtzan_gpu.errors import GtzanError


def load_evaluation(run_dir: str | Path, split: str = "test") -> dict:
    if not Path(run_dir).is_dir():
        raise GtzanError(f"run directory not found: {run_dir}")
    path = Path(run_dir) / f"eval_{split}.json"
    if not path.is_file():
        raise GtzanError(f"{path} not found: run `gtzan-gpu evaluate {run_dir} --split {split}` first")
    try:
        report = json.loads(path.read_text())
    except ValueError:
        raise GtzanError(f"{path} is not valid JSON; run `gtzan-gpu evaluate {run_dir}` again") from None
    if isinstance(report, dict) and "predictions" not in report:
        raise GtzanError(f"{path} was written before per-track predictions were saved; run "
                         f"`gtzan-gpu evaluate {run_dir}` again")
    problem = _malformed(report)
    if problem:
        raise GtzanError(f"{path} is not an evaluation report as evaluate writes it ({problem}); run "
                         f"`gtzan-gpu evaluate {run_dir}` again")
    return report


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == value and abs(value) < 1e12


def _malformed(report) -> str | None:
    """What makes ``report`` unusable for a paired test (a tampered or truncated eval_<split>.json), or None."""
    if not isinstance(report, dict):
        return "not a JSON object"
    if not isinstance(report.get("genres"), list) or not report["genres"]:
        return "no genre list"
    if not _is_number(report.get("segment_seconds")) or report["segment_seconds"] <= 0:
        return "no positive segment_seconds"
    if not isinstance(report.get("audio_digest"), str) or not report["audio_digest"]:
        return "no audio_digest: the tracks' audio cannot be checked"
    predictions = report["predictions"]
    if not isinstance(predictions, dict) or not predictions:
        return "predictions are not a non-empty mapping of track ids"
    classes = len(report["genres"])
    for track_id, entry in predictions.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("segments"), list):
            return f"track {track_id!r} has no segment predictions"
        values = [entry.get("label"), entry.get("track"), *entry["segments"]]
        if not entry["segments"] or not all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v < classes
                                            for v in values):
            return f"track {track_id!r} has predictions that are not genre indices"
    return None


def mcnemar(a_correct: list[bool], b_correct: list[bool]) -> dict:
    """Exact McNemar test of two paired lists of correctness."""
    only_a = sum(1 for a, b in zip(a_correct, b_correct) if a and not b)
    only_b = sum(1 for a, b in zip(a_correct, b_correct) if b and not a)
    discordant = only_a + only_b
    p_value = binomtest(only_a, discordant, 0.5).pvalue if discordant else 1.0
    return {"n": len(a_correct), "accuracy_a": sum(a_correct) / len(a_correct),
            "accuracy_b": sum(b_correct) / len(b_correct), "only_a_correct": only_a, "only_b_correct": only_b,
            "p_value": float(p_value)}


def compare_runs(run_a: str | Path, run_b: str | Path, split: str = "test") -> dict:
    """The paired comparison of two runs' ``eval_<split>.json``; refuses runs scored on different tracks."""
    a, b = load_evaluation(run_a, split), load_evaluation(run_b, split)
    if Path(run_a).resolve() == Path(run_b).resolve():
        raise GtzanError(f"{run_a} is compared with itself; give two different runs")
    tracks_a, tracks_b = set(a["predictions"]), set(b["predictions"])
    if tracks_a != tracks_b:
        raise GtzanError(f"{run_a} and {run_b} were evaluated on different {split} tracks "
                         f"({len(tracks_a ^ tracks_b)} differ); a paired test needs the same tracks")
    if a.get("audio_digest") and b.get("audio_digest") and a["audio_digest"] != b["audio_digest"]:
        raise GtzanError(f"{run_a} and {run_b} were evaluated on different audio under the same {split} track ids "
                         f"(their audio digests differ: another corpus, or changed files); a paired test needs "
                         f"the same tracks")
    if a["genres"] != b["genres"]:
        raise GtzanError(f"{run_a} and {run_b} use different genre lists")
    ids = sorted(tracks_a)
    pa, pb = a["predictions"], b["predictions"]
    relabelled = [i for i in ids if pa[i]["label"] != pb[i]["label"]]
    if relabelled:
        raise GtzanError(f"{run_a} and {run_b} were scored against different labels ({len(relabelled)} tracks, e.g. "
                         f"{relabelled[0]}: {pa[relabelled[0]]['label']} vs {pb[relabelled[0]]['label']}); a paired "
                         f"test needs the same truth")
    result = {"split": split, "tracks": len(ids), "run_a": str(run_a), "run_b": str(run_b),
              "model_a": f"{a['model']} {a['segment_seconds']:g} s", "model_b": f"{b['model']} {b['segment_seconds']:g} s",
              "track": mcnemar([pa[i]["track"] == pa[i]["label"] for i in ids],
                               [pb[i]["track"] == pb[i]["label"] for i in ids])}
    windows_a, windows_b = _windows(a), _windows(b)
    if windows_a == windows_b and all(len(pa[i]["segments"]) == len(pb[i]["segments"]) for i in ids):
        result["segment"] = mcnemar([p == pa[i]["label"] for i in ids for p in pa[i]["segments"]],
                                    [p == pb[i]["label"] for i in ids for p in pb[i]["segments"]])
    else:
        result["segment"] = None
        result["segment_note"] = ("segment level not paired: the runs cut the tracks into different windows "
                                  f"({_describe(windows_a)} vs {_describe(windows_b)}); track level only")
    return result


def _windows(report: dict) -> tuple:
    """The evaluation windows a report's segments are: (segment seconds, hop seconds, sample rate); segments of two
    runs are the same audio only when these agree (a count alone can match for different windows)."""
    config = report.get("config") or {}
    hop = config.get("eval_hop_seconds") if isinstance(config, dict) else None
    return (float(report["segment_seconds"]), float(hop) if hop else float(report["segment_seconds"]),
            report.get("sample_rate"))


def _describe(windows: tuple) -> str:
    return f"{windows[0]:g}-s windows every {windows[1]:g} s"


def format_comparison(result: dict) -> str:
    lines = [f"{result['split']} split, {result['tracks']} tracks: A = {result['model_a']} ({result['run_a']}), "
             f"B = {result['model_b']} ({result['run_b']})",
             f"{'level':<8} {'n':>6} {'acc A':>7} {'acc B':>7} {'only A':>7} {'only B':>7} {'McNemar p':>10}"]
    for level in ("track", "segment"):
        row = result[level]
        if row is None:
            lines.append(f"{level:<8} {result['segment_note']}")
            continue
        lines.append(f"{level:<8} {row['n']:>6} {row['accuracy_a']:>7.4f} {row['accuracy_b']:>7.4f} "
                     f"{row['only_a_correct']:>7} {row['only_b_correct']:>7} {row['p_value']:>10.4g}")
    lines.append("exact McNemar test (two-sided binomial on the items exactly one run gets right); segments of one "
                 "track are not independent, so the track-level p-value is the one to report")
    return "\n".join(lines)
