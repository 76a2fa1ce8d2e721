"""A suite with every kind of outcome line unittest writes, for checking
that pyoutcomes.py reads them all and reports a difference when there is
one. With OUTCOMES_FLIP=1 some cases change their outcome."""
import os
import sys
import threading
import unittest

FLIP = os.environ.get("OUTCOMES_FLIP") == "1"


class Kinds(unittest.TestCase):
    def test_ok(self):
        pass

    def test_docstring(self):
        """A docstring's first line ... with dots in it."""

    def test_output_after_dots(self):
        # Printed past the runner's buffering, between " ... " and "ok".
        t = threading.Thread(target=lambda: print("noise from a thread", file=sys.__stdout__, flush=True))
        t.start()
        t.join()

    @unittest.skip("always skipped")
    def test_skip(self):
        pass

    @unittest.expectedFailure
    def test_expected_failure(self):
        self.fail("expected")

    def test_subtests_pass(self):
        for i in range(3):
            with self.subTest(i=i):
                pass

    def test_fail_flip(self):
        self.assertFalse(FLIP, "flipped")

    def test_error_flip(self):
        if FLIP:
            raise OSError("flipped")

    def test_skip_flip(self):
        if FLIP:
            self.skipTest("flipped")

    def test_subtest_flip(self):
        for i in range(3):
            with self.subTest(i=i):
                self.assertFalse(FLIP and i == 1, "flipped")


class Fixture(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if FLIP:
            raise RuntimeError("flipped")

    def test_after_fixture(self):
        pass


if __name__ == "__main__":
    unittest.main()
