"""Checks of the measuring code in bench/run.py (`make bench` runs them first).

    .venv/bin/python -m unittest discover -s bench -p 'test_*.py'
"""
import subprocess
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run  # noqa: E402


class AgreementTest(unittest.TestCase):
    def test_counts_exact_matches_label_changes_and_misses(self):
        ref = {"a": ("Ann met Bob in Rome.", {(0, 3, "PERSON"), (8, 11, "PERSON"), (15, 19, "GPE")})}
        cand = {"a": ("Ann met Bob in Rome.", {(0, 3, "PERSON"), (8, 11, "ORG"), (4, 7, "ORG")})}
        a = run.agreement("x", ref, cand)
        self.assertEqual((a["exact_matches"], a["span_matches"], a["label_differs"]), (1, 2, 1))
        self.assertAlmostEqual(a["precision"], 1 / 3)
        self.assertAlmostEqual(a["recall"], 1 / 3)
        self.assertEqual(a["identical_articles"], 0)

    def test_offsets_are_aligned_through_a_changed_text(self):
        # The candidate's text gained a blank line and lost a double space before its entities.
        ref = {"a": ("Hi.  Ann met Bob in Rome.", {(5, 8, "PERSON"), (13, 16, "PERSON"), (20, 24, "GPE")})}
        cand = {"a": ("Hi.\n\nAnn met Bob in Rome.", {(5, 8, "PERSON"), (13, 16, "PERSON"), (20, 24, "LOC")})}
        a = run.agreement("x", ref, cand)
        self.assertEqual((a["exact_matches"], a["label_differs"], a["text_differs"]), (2, 1, 1))

    def test_an_entity_whose_text_changed_does_not_match(self):
        ref = {"a": ("New  York is big.", {(0, 9, "GPE")})}
        cand = {"a": ("New York is big.", {(0, 8, "GPE")})}
        a = run.agreement("x", ref, cand)
        self.assertEqual((a["exact_matches"], a["candidate_entities"], a["precision"]), (0, 1, 0.0))

    def test_identical_outputs_agree_fully(self):
        ref = {"a": ("Rome.", {(0, 4, "GPE")}), "b": ("No entity here.", set())}
        a = run.agreement("x", ref, dict(ref))
        self.assertEqual((a["identical_articles"], a["f1"]), (2, 1.0))


class HelpersTest(unittest.TestCase):
    def test_percentile_interpolates(self):
        self.assertEqual(run.percentile([1, 2, 3, 4, 5], 0.5), 3)
        self.assertAlmostEqual(run.percentile(list(range(101)), 0.99), 99)
        self.assertAlmostEqual(run.percentile([10, 20], 0.25), 12.5)

    def test_e2e_ids_are_unique_and_map_back_to_the_corpus(self):
        corpus = [("doc1", "One."), ("doc2", "Two.")]
        articles = run.e2e_articles(corpus, 5, "b1r0-")
        ids = [i for i, _ in articles]
        self.assertEqual(len(set(ids)), 5)
        self.assertEqual([run.base_id(i) for i in ids], ["doc1", "doc2", "doc1", "doc2", "doc1"])


class RssTest(unittest.TestCase):
    def test_peak_of_a_process_that_allocates_200_mb(self):
        code = "import time; x = bytearray(200 * 2**20); time.sleep(0.3)"
        rc, _, peak_mb, _ = run.run_measured([sys.executable, "-c", code], subprocess.DEVNULL)
        self.assertEqual(rc, 0)
        self.assertGreater(peak_mb, 200)
        self.assertLess(peak_mb, 400)

    def test_children_are_summed(self):
        child = "import time; x = bytearray(150 * 2**20); time.sleep(1.0)"
        code = (
            "import subprocess, sys;"
            f"ps = [subprocess.Popen([sys.executable, '-c', {child!r}]) for _ in range(2)];"
            "[p.wait() for p in ps]"
        )
        rc, _, peak_mb, _ = run.run_measured([sys.executable, "-c", code], subprocess.DEVNULL)
        self.assertEqual(rc, 0)
        self.assertGreater(peak_mb, 300)


class RecordIdTest(unittest.TestCase):
    def test_a_records_message_id_maps_back_to_its_article(self):
        self.assertEqual(run.record_article_id("abc#b1r0-0:3f9a"), "abc#b1r0-0")
        self.assertEqual(run.record_article_id("abc#b1r0-0"), "abc#b1r0-0")
        self.assertEqual(run.record_article_id("warmup-3:0"), "warmup-3")


class CpuTest(unittest.TestCase):
    def test_the_isa_is_named_from_the_cpu_flags(self):
        name, isa = run.cpu_info()
        flags = next((line.split(":", 1)[1].split() for line in open("/proc/cpuinfo") if line.startswith("flags")), [])
        expected = "SSE2"
        if "avx512f" in flags:
            expected = "AVX-512F"
        elif {"avx2", "fma"} <= set(flags):
            expected = "AVX2+FMA, no AVX-512"
        self.assertEqual(isa, expected)
        self.assertNotEqual(name, "unknown CPU")
        self.assertIn(isa, run.machine())


if __name__ == "__main__":
    unittest.main()
