"""`python -m bot deploy MODEL [--force]` and `python -m bot deploy --rollback`: switch the running
rasa server's model through the gateway's internal API (docs/deploying.md).

The gateway does the switch (it holds visitors' messages meanwhile); this prints its steps as they
happen and exits 0 when the model is live, 1 when the switch was refused or failed (the old model
then stays live), 2 for a usage or settings error or when the gateway cannot be reached.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from typing import Any, Dict, List, Optional, TextIO

import httpx

from bot.settings import Settings, SettingsError, get_settings

# Between two steps the gateway may wait for messages already with Rasa and then for the load:
# far longer than either has taken.
READ_SECONDS = 600.0


def main(argv: Optional[List[str]] = None, out: TextIO = sys.stdout) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bot deploy",
        description="Make a trained model live on the running rasa server, or roll back to the previous one.")
    parser.add_argument("model", nargs="?", help="a model in the models folder (engage-<hash>, with or without "
                                                 ".tar.gz)")
    parser.add_argument("--force", action="store_true",
                        help="deploy even if the model was not evaluated or did not pass the regression gate")
    parser.add_argument("--rollback", action="store_true", help="switch back to the model the live one replaced")
    args = parser.parse_args(argv)
    if bool(args.model) == args.rollback:
        parser.error("name a MODEL to deploy, or give --rollback")
    if args.force and args.rollback:
        parser.error("--force is for deploying a model; a rollback returns to the model live before")
    try:
        settings = get_settings()
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    body: Dict[str, Any] = {"by": getpass.getuser()}
    if args.rollback:
        path = "rollback"
        print("rolling back to the previous model ...", file=out, flush=True)
    else:
        path = "deploy"
        body.update(model=args.model, force=args.force)
        print(f"deploying {args.model}{' (forced past the gate)' if args.force else ''} ...", file=out, flush=True)
    return switch(settings, path, body, out)


def switch(settings: Settings, path: str, body: Dict[str, Any], out: TextIO) -> int:
    url = f"http://127.0.0.1:{settings.internal_api_port}/internal/models/{path}"
    headers = {"Authorization": f"Bearer {settings.internal_api_token}"}
    result: Optional[Dict[str, Any]] = None
    try:
        with httpx.Client(timeout=httpx.Timeout(10.0, read=READ_SECONDS)) as client:
            with client.stream("POST", url, json=body, headers=headers) as response:
                if response.status_code != 200:
                    response.read()
                    print(f"refused: {_error_of(response)}", file=sys.stderr)
                    return 1
                for line in response.iter_lines():
                    if not line.strip():
                        continue
                    item = json.loads(line)
                    if "step" in item:
                        print(f"  {item['step']}", file=out, flush=True)
                    elif "result" in item:
                        result = item["result"]
    except httpx.TransportError as exc:
        print(f"error: the gateway's internal API at {url} stopped or did not answer ({type(exc).__name__}: "
              f"{exc}); is the gateway running? Its log and the models page say how any switch ended.",
              file=sys.stderr)
        return 2
    if result is None:
        print("error: the gateway ended the answer before the switch's result; see its log", file=sys.stderr)
        return 1
    if not result.get("ok"):
        print(f"failed: {result.get('message')}", file=sys.stderr)
        return 1
    print(result.get("message"), file=out)
    return 0


def _error_of(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    return str(error or f"HTTP {response.status_code}")
