"""The end-of-run log check finds a quoted visitor message, and only in logs of this run."""

import os
import time

from tests.support.log_privacy import quoted_in_logs


def test_a_quoted_message_is_found_in_a_fresh_log_and_short_or_old_ones_are_not(tmp_path):
    (tmp_path / "server-logs").mkdir()
    fresh = tmp_path / "server-logs" / "rasa.log"
    fresh.write_text("WARNING rasa.core - could not parse 'i want to kill myself tonight'\nhi there\n")
    old = tmp_path / "old.log"
    old.write_text("do you take insurance at all")
    os.utime(old, (time.time() - 3600, time.time() - 3600))
    started = time.time() - 60
    texts = ["i want to kill myself tonight", "do you take insurance at all", "hi there"]
    assert quoted_in_logs(texts, tmp_path, started) == [(str(fresh), "i want to kill myself tonight")]
