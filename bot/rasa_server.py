"""`python -m bot.rasa_server run ...`: Rasa's own CLI, with two per-message costs removed.

Profiling the server (py-spy, see README "Performance") showed that, with
Rasa 3.6.21 and the jsonschema it pins, about half of each reply's time went
to re-checking one fixed JSON schema against the meta-schema on every action
server response, and much of the rest to searching all Event subclasses once
per stored event when a tracker is loaded. Both results are the same with the
work done once; nothing else about Rasa changes.
"""

from __future__ import annotations

import functools
from typing import Any, Dict, Optional, Text, Type

from jsonschema import ValidationError
from jsonschema.protocols import Validator
from jsonschema.validators import validator_for
from rasa.core.actions.action import RemoteAction
from rasa.shared.core.events import Event

_unpatched_resolve_by_type = Event.resolve_by_type


@functools.lru_cache(maxsize=1)
def _action_response_validator() -> Validator:
    # The same validator class jsonschema.validate() would pick for this schema.
    schema = RemoteAction.action_response_format_spec()
    return validator_for(schema)(schema)


def _validate_action_result(self: RemoteAction, result: Dict[Text, Any]) -> bool:
    try:
        _action_response_validator().validate(result)
        return True
    except ValidationError as error:
        error.message += ". Failed to validate Action server response from API."
        raise


@functools.lru_cache(maxsize=None)
def _event_class(type_name: Text) -> Optional[Type[Event]]:
    try:
        return _unpatched_resolve_by_type(type_name)
    except ValueError:
        return None


def _resolve_by_type(type_name: Text, default: Optional[Type[Event]] = None) -> Optional[Type[Event]]:
    found = _event_class(type_name)
    if found is not None:
        return found
    # Unknown names keep Rasa's own behaviour (a default, None or a ValueError).
    return _unpatched_resolve_by_type(type_name, default)


def apply() -> None:
    RemoteAction._validate_action_result = _validate_action_result
    Event.resolve_by_type = staticmethod(_resolve_by_type)


if __name__ == "__main__":
    from rasa.__main__ import main

    apply()
    main()
