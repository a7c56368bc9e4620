"""`python -m bot.rasa_plugins.rasa_server run ...`: Rasa's own CLI, with two per-message costs removed.

Profiling the server (py-spy, see README "Performance") showed that, with
Rasa 3.6.21 and the jsonschema it pins, about half of each reply's time went
to re-checking one fixed JSON schema against the meta-schema on every action
server response, and much of the rest to searching all Event subclasses once
per stored event when a tracker is loaded. Both results are the same with the
work done once; nothing else about Rasa changes.

Both speed-ups replace Rasa internals, and the tracker store overrides a few
more, so `apply()` first checks that each still exists with the parameters
this code was written for: after a Rasa upgrade the server then refuses to
start, naming what changed and the file to update, instead of running with a
patch that no longer fits.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any, Callable, Dict, Optional, Sequence, Text, Type

import rasa
from jsonschema import ValidationError
from jsonschema.protocols import Validator
from jsonschema.validators import validator_for
from rasa.core.actions.action import RemoteAction
from rasa.shared.core.events import Event

# As named in messages; `__name__` is "__main__" when the server runs this file.
THIS_FILE = "bot/rasa_plugins/rasa_server.py"


class RasaInternalChanged(RuntimeError):
    """A Rasa internal that this project patches or overrides is missing or has changed.

    Not an AttributeError: Rasa answers one of those from a custom tracker store
    by quietly using an in-memory store instead.
    """


def require_internal(owner: type, name: str, user_file: str, parameters: Optional[Sequence[str]] = None,
                     attributes: Sequence[str] = ()) -> None:
    """Raise RasaInternalChanged unless `owner.name` exists, takes `parameters` and has `attributes`."""
    where = f"{owner.__module__}.{owner.__qualname__}.{name}"
    advice = f"{user_file} patches or overrides it; update {user_file} for this Rasa version."
    if not hasattr(owner, name):
        raise RasaInternalChanged(f"Rasa {rasa.__version__} has no {where}. {advice}")
    target = getattr(owner, name)
    if parameters is not None:
        found = list(inspect.signature(target).parameters)
        if found != list(parameters):
            raise RasaInternalChanged(f"In Rasa {rasa.__version__}, {where} takes ({', '.join(found)}), "
                                      f"not ({', '.join(parameters)}). {advice}")
    missing = [attribute for attribute in attributes if not hasattr(target, attribute)]
    if missing:
        raise RasaInternalChanged(f"In Rasa {rasa.__version__}, {where} has no {', '.join(missing)}. {advice}")


def check_rasa_internals() -> None:
    require_internal(RemoteAction, "_validate_action_result", THIS_FILE, ("self", "result"))
    require_internal(RemoteAction, "action_response_format_spec", THIS_FILE, ())
    require_internal(Event, "resolve_by_type", THIS_FILE, ("type_name", "default"))


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


# Rasa's own functions, kept by the first apply() so a second one cannot wrap the patched ones.
_rasa_original: Dict[str, Callable[..., Any]] = {}


@functools.lru_cache(maxsize=None)
def _event_class(type_name: Text) -> Optional[Type[Event]]:
    try:
        return _rasa_original["resolve_by_type"](type_name)
    except ValueError:
        return None


def _resolve_by_type(type_name: Text, default: Optional[Type[Event]] = None) -> Optional[Type[Event]]:
    found = _event_class(type_name)
    if found is not None:
        return found
    # Unknown names keep Rasa's own behaviour (a default, None or a ValueError).
    return _rasa_original["resolve_by_type"](type_name, default)


def apply() -> None:
    check_rasa_internals()
    # Rasa imports the tracker store named in endpoints.yml itself, and if that import raises an
    # AttributeError or ImportError it logs a warning and keeps conversations in memory only.
    # Importing and checking it here turns such a Rasa change into a start-up failure.
    from bot.rasa_plugins import tracker_store

    tracker_store.check_rasa_internals()
    _rasa_original.setdefault("resolve_by_type", Event.resolve_by_type)
    RemoteAction._validate_action_result = _validate_action_result
    Event.resolve_by_type = staticmethod(_resolve_by_type)


if __name__ == "__main__":
    from rasa.__main__ import main

    apply()
    main()
