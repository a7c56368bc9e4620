"""What Rasa's policies see: the states RulePolicy and MemoizationPolicy compute from a tracker,
for comparing the windowed tracker store with Rasa's own loading of the whole session."""

from __future__ import annotations

import asyncio
import json
import tarfile
from functools import lru_cache

import yaml
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker

from bot.ops.training import train_model
from bot.rasa_plugins.tracker_store import RecentEventsSQLTrackerStore
from bot.settings import REPO_ROOT

DOMAIN = Domain.load(str(REPO_ROOT / "domain.yml"))


@lru_cache(maxsize=1)
def rule_only_data() -> dict:
    """What the trained RulePolicy tells MemoizationPolicy to leave out of its states."""
    with tarfile.open(train_model()) as model:
        member = next(m for m in model.getmembers() if m.name.endswith("rule_only_data.json"))
        return json.load(model.extractfile(member))


def memoization_max_history() -> int:
    config = yaml.safe_load((REPO_ROOT / "config.yml").read_text())
    return next(p["max_history"] for p in config["policies"] if p["name"] == "MemoizationPolicy")


def policy_states(tracker: DialogueStateTracker):
    """The states RulePolicy (every turn) and MemoizationPolicy (no rule-only turns) compute from a tracker."""
    return (tracker.past_states(DOMAIN),
            tracker.past_states(DOMAIN, ignore_rule_only_turns=True, rule_only_data=rule_only_data()))


def assert_policies_see_the_whole_session(store: RecentEventsSQLTrackerStore, sender: str) -> DialogueStateTracker:
    """The windowed tracker against Rasa's own loading of the same stored session; returns the windowed one."""
    windowed = asyncio.run(store.retrieve(sender))
    whole = asyncio.run(SQLTrackerStore.retrieve(store, sender))
    rule_states, memo_states = policy_states(windowed)
    whole_rule_states, whole_memo_states = policy_states(whole)
    # The window's first state comes before its first action_listen and, as at a conversation
    # start, has no previous action; every later one is the whole session's.
    assert rule_states[1:] == whole_rule_states[len(whole_rule_states) - len(rule_states) + 1:]
    history = memoization_max_history()
    assert memo_states[-history:] == whole_memo_states[-history:]
    assert windowed.current_slot_values() == whole.current_slot_values()
    assert windowed.is_paused() == whole.is_paused()
    assert windowed.active_loop_name == whole.active_loop_name
    assert windowed.latest_message == whole.latest_message
    return windowed


def whole_session(store, sender: str) -> DialogueStateTracker:
    return asyncio.run(SQLTrackerStore.retrieve(store, sender))
