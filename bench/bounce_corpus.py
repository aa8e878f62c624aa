"""Bounce parser figures on the shared corpus, with flufl.bounce measured in the same run.

Usage (from the project root):
    python bench/bounce_corpus.py [--corpus PATH] [--repeats N] [--failures]

The corpus is read where it lives (default `../shared/bounce-corpus/`, or $BOUNCE_CORPUS_DIR);
it is never copied into the project.

Scoring rules:
- Detection: share of `is_bounce` samples for which `parse_bounce` returns a report.
- Recipient recall / precision: over bounce samples, expected addresses found / expected, and
  found addresses that are expected / found. Samples marked `recipient_placeholder` (the
  corpus does not know the address) are left out of recall and precision only.
- Exact status: per expected recipient that we found, compared literally. The corpus status
  is the enhanced code the message carries or, where it carries none, Sisimai's pseudo-code of
  the reason (`<class>.0.9NN`, e.g. 5.0.911 userunknown). The parser never reports those:
  `sisimai_status` maps its reason and class to them. Both subsets (carried / pseudo-code)
  are printed apart.
- Hard: per expected recipient that we found, against the corpus's per-recipient `hard` (a
  sample-level `hard: null` only means its recipients disagree, so each is scored alone).
- False positives: `parse_bounce` returning a report for any non-bounce sample (Sisimai's
  vacation / feedback / delivered kinds and every nonbounce/ sample).
- Speed: every sample parsed once per repeat by each parser in turn, message by message, timed
  in CPU seconds of this process; the median of the repeats is quoted. flufl gets the same bytes
  and pays for `email.message_from_bytes` as we pay for our own parsing.
"""

from __future__ import annotations

import argparse
import email
import json
import os
import platform
import re
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from bounces.parsing import FailedRecipient, parse_bounce, reasons, vocabulary  # noqa: E402  # noqa: E402

DEFAULT_CORPUS = PROJECT_ROOT.parent / "shared" / "bounce-corpus"
INTERNAL_STATUS = re.compile(r"^[245]\.0\.9\d\d$")

TARGETS = {
    "detected": 0.98,
    "recall": 0.98,
    "precision": 0.99,
    "status": 0.95,
    "hard": 0.95,
}


@dataclass(frozen=True)
class Sample:
    path: Path
    name: str
    expected: dict
    raw: bytes

    @property
    def is_bounce(self) -> bool:
        return bool(self.expected.get("is_bounce"))


@dataclass
class Score:
    bounces: int = 0
    detected: int = 0
    expected_recipients: int = 0
    found_expected: int = 0
    found_total: int = 0
    status_real: list[bool] = field(default_factory=list)
    status_inferred: list[bool] = field(default_factory=list)
    hard: list[bool] = field(default_factory=list)
    delayed: list[bool] = field(default_factory=list)
    non_bounces: int = 0
    false_positives: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def ratio(self, numerator: int, denominator: int) -> float:
        return numerator / denominator if denominator else 1.0

    @property
    def detection_rate(self) -> float:
        return self.ratio(self.detected, self.bounces)

    @property
    def recall(self) -> float:
        return self.ratio(self.found_expected, self.expected_recipients)

    @property
    def precision(self) -> float:
        return self.ratio(self.found_expected, self.found_total)

    @property
    def status_rate(self) -> float:
        both = self.status_real + self.status_inferred
        return self.ratio(sum(both), len(both))

    @property
    def hard_rate(self) -> float:
        return self.ratio(sum(self.hard), len(self.hard))


def load_samples(corpus: Path) -> list[Sample]:
    samples = []
    for expected_file, emails_dir in (
        (corpus / "sisimai" / "expected.jsonl", corpus / "sisimai" / "emails"),
        (corpus / "nonbounce" / "expected.jsonl", corpus / "nonbounce"),
    ):
        for line in expected_file.read_text().splitlines():
            if not line.strip():
                continue
            expected = json.loads(line)
            path = emails_dir / expected["file"]
            name = f"{expected_file.parent.name}/{expected['file']}"
            samples.append(Sample(path=path, name=name, expected=expected, raw=path.read_bytes()))
    return samples


def expected_status(recipient: dict) -> tuple[str | None, bool]:
    """(the status we must report, literally, and whether the message carried it).

    The corpus gives the enhanced status the message carries or, where it carries none,
    Sisimai's pseudo-code of the reason (`<class>.0.9NN`); ours must be equal either way.
    """
    status = recipient.get("status")
    if not status:
        return None, True
    return status, not INTERNAL_STATUS.match(status)


# The vocabulary word -> the Sisimai category the corpus labels with (first one wins).
SISIMAI_REASON: dict[str, str] = {}
for _internal, _word in vocabulary.FROM_INTERNAL.items():
    SISIMAI_REASON.setdefault(_word, _internal)


def sisimai_status(recipient: FailedRecipient) -> str | None:
    """Our recipient's status in the corpus's convention, to compare literally.

    The corpus gives the code a notice states, else Sisimai's pseudo-code of the reason
    (`<class>.0.9NN`). We report the stated code, else the reply code's class, else nothing,
    plus the reason and the failure's class: the pseudo-code is this mapping of those, never
    the parser's output.
    """
    if recipient.status_source == "notice":
        return recipient.status
    internal = SISIMAI_REASON.get(recipient.reason, "undefined")
    return reasons.pseudo_status(internal, temporary=recipient.temporary)


def score_ours(samples: list[Sample]) -> Score:
    score = Score()
    for sample in samples:
        report = parse_bounce(sample.raw)
        if not sample.is_bounce:
            score.non_bounces += 1
            if report is not None:
                score.false_positives.append(sample.name)
            continue
        score.bounces += 1
        if report is None:
            score.failures.append(f"{sample.name}: not detected")
            continue
        score.detected += 1
        found = {recipient.address: recipient for recipient in report.recipients}
        if not sample.expected.get("recipient_placeholder"):
            expected_addresses = set(sample.expected["recipients"])
            score.expected_recipients += len(expected_addresses)
            score.found_expected += len(expected_addresses & set(found))
            score.found_total += len(found)
            if expected_addresses != set(found):
                score.failures.append(
                    f"{sample.name}: recipients {sorted(found)} != {sorted(expected_addresses)}"
                )
        score.delayed.append(report.is_delayed == bool(sample.expected.get("delayed")))
        for expected in sample.expected["per_recipient"]:
            ours = found.get(expected.get("recipient") or "")
            if ours is None:
                continue
            status, real = expected_status(expected)
            if status is not None:
                mapped = sisimai_status(ours)
                (score.status_real if real else score.status_inferred).append(mapped == status)
                if mapped != status:
                    score.failures.append(
                        f"{sample.name}: status {mapped} ({ours.status}) != {status} "
                        f"({expected.get('reason')}; ours {ours.reason}) {ours.diagnostic[:150]!r}"
                    )
            if expected.get("hard") is not None:
                score.hard.append(ours.hard == expected["hard"])
                if ours.hard != expected["hard"]:
                    score.failures.append(
                        f"{sample.name}: hard {ours.hard} != {expected['hard']} "
                        f"({expected.get('reason')}; ours {ours.reason} {ours.status}) "
                        f"{ours.diagnostic[:150]!r}"
                    )
    return score


def flufl_scan(raw: bytes, scan) -> set[str] | None:
    """flufl's permanent failures, or None when it raises (it re-raises detector errors)."""
    try:
        found = scan(email.message_from_bytes(raw))
    except Exception:  # a baseline crash is a figure to report, not a reason to stop
        return None
    return {
        (address.decode("utf-8", "replace") if isinstance(address, bytes) else str(address)).lower()
        for address in found
    }


def score_flufl(samples: list[Sample], scan) -> tuple[Score, int]:
    score = Score()
    errors = 0
    for sample in samples:
        found = flufl_scan(sample.raw, scan)
        if found is None:
            errors += 1
            found = set()
        if not sample.is_bounce:
            score.non_bounces += 1
            if found:
                score.false_positives.append(sample.name)
            continue
        score.bounces += 1
        if not found:
            continue
        score.detected += 1
        if not sample.expected.get("recipient_placeholder"):
            expected_addresses = set(sample.expected["recipients"])
            score.expected_recipients += len(expected_addresses)
            score.found_expected += len(expected_addresses & found)
            score.found_total += len(found)
    # Recall is over every bounce sample, detected or not, like ours.
    score.expected_recipients = sum(
        len(sample.expected["recipients"])
        for sample in samples
        if sample.is_bounce and not sample.expected.get("recipient_placeholder")
    )
    return score, errors


def messages_per_second(
    samples: list[Sample], parsers: dict[str, object], repeats: int
) -> dict[str, list[float]]:
    """Messages per CPU-second of each parser, one figure per repeat.

    The parsers take turns message by message and are timed in CPU seconds of this process,
    so a busy shared machine slows both alike instead of favouring whichever ran while it
    was quiet.
    """
    clock = time.process_time
    rates: dict[str, list[float]] = {name: [] for name in parsers}
    for _ in range(repeats):
        spent = dict.fromkeys(parsers, 0.0)
        for sample in samples:
            for name, parse in parsers.items():
                started = clock()
                parse(sample.raw)
                spent[name] += clock() - started
        for name in parsers:
            rates[name].append(len(samples) / spent[name])
    return rates


def print_baseline(score: Score) -> None:
    figures = (
        ("bounces detected", score.detection_rate, f"{score.detected}/{score.bounces}"),
        ("recipient recall", score.recall, f"{score.found_expected}/{score.expected_recipients}"),
        ("recipient precision", score.precision, f"{score.found_expected}/{score.found_total}"),
    )
    for label, value, detail in figures:
        print(f"  {label:32} {percent(value):>9}  {detail}")


def percent(value: float) -> str:
    return f"{100 * value:6.2f}%"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "--corpus", type=Path, default=Path(os.environ.get("BOUNCE_CORPUS_DIR", DEFAULT_CORPUS))
    )
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--failures", action="store_true", help="list every sample we get wrong")
    parser.add_argument("--no-flufl", action="store_true", help="skip the flufl.bounce baseline")
    args = parser.parse_args(argv)

    samples = load_samples(args.corpus)
    ours = score_ours(samples)
    # Recall counts recipients of undetected bounces as missed.
    ours.expected_recipients = sum(
        len(sample.expected["recipients"])
        for sample in samples
        if sample.is_bounce and not sample.expected.get("recipient_placeholder")
    )

    print(f"Bounce corpus: {args.corpus}")
    print(
        f"Machine: {platform.machine()} {platform.processor() or ''} {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, {platform.system()} {platform.release()}"
    )
    print(
        f"Samples: {len(samples)} ({ours.bounces} bounces, {ours.non_bounces} non-bounces); "
        f"speed: median of {args.repeats} repeats, messages per CPU-second, parsers interleaved\n"
    )
    parsers = {"ours": parse_bounce}
    if not args.no_flufl:
        from flufl.bounce import all_failures, scan_message

        parsers["flufl"] = lambda raw: flufl_scan(raw, scan_message)
    all_rates = messages_per_second(samples, parsers, args.repeats)
    rates = all_rates["ours"]
    rate = statistics.median(rates)
    rows = [
        (
            "bounces detected",
            percent(ours.detection_rate),
            f"{ours.detected}/{ours.bounces}",
            "detected",
        ),
        (
            "recipient recall",
            percent(ours.recall),
            f"{ours.found_expected}/{ours.expected_recipients}",
            "recall",
        ),
        (
            "recipient precision",
            percent(ours.precision),
            f"{ours.found_expected}/{ours.found_total}",
            "precision",
        ),
        (
            "exact status",
            percent(ours.status_rate),
            f"{sum(ours.status_real) + sum(ours.status_inferred)}/"
            f"{len(ours.status_real) + len(ours.status_inferred)}",
            "status",
        ),
        (
            "  status carried by the message",
            percent(ours.ratio(sum(ours.status_real), len(ours.status_real))),
            f"{sum(ours.status_real)}/{len(ours.status_real)}",
            None,
        ),
        (
            "  pseudo-code (none carried)",
            percent(ours.ratio(sum(ours.status_inferred), len(ours.status_inferred))),
            f"{sum(ours.status_inferred)}/{len(ours.status_inferred)}",
            None,
        ),
        (
            "agreement on hard",
            percent(ours.hard_rate),
            f"{sum(ours.hard)}/{len(ours.hard)}",
            "hard",
        ),
        (
            "agreement on delayed (info)",
            percent(ours.ratio(sum(ours.delayed), len(ours.delayed))),
            f"{sum(ours.delayed)}/{len(ours.delayed)}",
            None,
        ),
        (
            "false positives",
            str(len(ours.false_positives)),
            f"of {ours.non_bounces} non-bounces",
            None,
        ),
        ("messages/second", f"{rate:8.0f}", f"runs: {', '.join(f'{r:.0f}' for r in rates)}", None),
    ]
    print("Mailroom parse_bounce")
    for label, value, detail, target in rows:
        verdict = ""
        if target:
            actual = {
                "detected": ours.detection_rate,
                "recall": ours.recall,
                "precision": ours.precision,
                "status": ours.status_rate,
                "hard": ours.hard_rate,
            }[target]
            met = "ok" if actual >= TARGETS[target] else "MISSED"
            verdict = f"target >= {percent(TARGETS[target]).strip()} {met}"
        print(f"  {label:32} {value:>9}  {detail:28} {verdict}")
    if ours.false_positives:
        print(f"  false positives: {', '.join(ours.false_positives)}")

    if not args.no_flufl:
        flufl, errors = score_flufl(samples, scan_message)
        flufl_rates = all_rates["flufl"]
        flufl_rate = statistics.median(flufl_rates)

        def any_failure(message):
            temporary, permanent = all_failures(message)
            return temporary | permanent

        flufl_all, _ = score_flufl(samples, any_failure)
        print("\nflufl.bounce 6.0.0 scan_message (permanent failures only, by design)")
        print_baseline(flufl)
        print(f"  {'false positives':32} {len(flufl.false_positives):>9}  of {flufl.non_bounces}")
        print(f"  {'detector exceptions':32} {errors:>9}")
        runs = ", ".join(f"{r:.0f}" for r in flufl_rates)
        print(f"  {'messages/second':32} {flufl_rate:9.0f}  runs: {runs}")
        print("flufl.bounce 6.0.0 all_failures (temporary + permanent)")
        print_baseline(flufl_all)
        print(f"\nspeed ratio (ours / flufl scan_message): {rate / flufl_rate:.1f}x")

    if args.failures:
        print("\nSamples we get wrong:")
        for failure in ours.failures:
            print(f"  {failure}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
