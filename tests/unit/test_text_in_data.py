"""Every word a visitor reads lives in data (docs/chat-protocol.md, "Where the words live").

These fail when a visitor-facing text, a helpline number or the message limit comes back into
code: the gateway's own messages, the widget's and the demo page's words, the actions' buttons and
prompts. The gateway runs in-process, with no Rasa behind it.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any, Iterator, List, Tuple

import pytest
import yaml
from starlette.testclient import TestClient

from bot.domain.knowledge.loader import default as knowledge, render
from bot.gateway.app import create_app
from bot.gateway.visitor.texts import GATEWAY_MESSAGES, WIDGET_MARKER, WIDGET_MESSAGES, VisitorTexts
from bot.settings import REPO_ROOT
from devtools.local_stack import free_port
from tests.support.console_client import console_settings
from tests.support.sockets import hello, receive_json

KNOWLEDGE_FILE = REPO_ROOT / "data" / "knowledge.yml"
DOMAIN_FILE = REPO_ROOT / "domain.yml"
WIDGET = REPO_ROOT / "bot" / "gateway" / "static" / "widget.js"
DEMO_PAGE = REPO_ROOT / "bot" / "gateway" / "static" / "demo.html"
# The Python that sends visitors words: none of them may be written here.
VISITOR_CODE = sorted([*(REPO_ROOT / "actions").glob("*.py"), *(REPO_ROOT / "bot" / "gateway").glob("*.py"),
                       *(REPO_ROOT / "bot" / "gateway" / "visitor").glob("*.py"),
                       REPO_ROOT / "bot" / "gateway" / "console" / "conversation.py"])
# domain.yml responses Rasa gives from the trained model (by rule, or by the fallback action) that
# quote a helpline: Rasa fills {…} in them only from slots, so they write the number out.
RASA_RESPONSES_WITH_NUMBERS = {"utter_crisis", "utter_medical_emergency", "utter_decline_where_to_buy",
                               "utter_english_only"}
# Any number a helpline could be: three digits or more, alone or with dashes.
NUMBER = re.compile(r"(?<![\w-])\d{3,}(?:-\d+)*(?![\w-])")


def helplines() -> dict:
    return knowledge().helplines


def standalone(number: str) -> "re.Pattern[str]":
    return re.compile(r"(?<![\w-])" + re.escape(number) + r"(?![\w-])")


def strings(node: Any, path: Tuple[str, ...] = ()) -> Iterator[Tuple[Tuple[str, ...], str]]:
    """Every string in a YAML document with where it is; `sources` (citations, never shown) left out."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key != "sources":
                yield from strings(value, path + (str(key),))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from strings(value, path + (str(index),))
    elif isinstance(node, str):
        yield path, node


# ------------------------------------------------------------------------------------ numbers

@pytest.mark.parametrize("name", ["crisis_line", "emergency_number", "poison_help", "samhsa_helpline",
                                  "veterans_crisis_text"])
def test_each_helpline_number_is_written_once_in_the_knowledge_file(name):
    raw = yaml.safe_load(KNOWLEDGE_FILE.read_text(encoding="utf-8"))
    number = raw["helplines"][name]
    found = [path for path, text in strings(raw) if standalone(number).search(text)]
    assert found == [("helplines", name)]


def test_the_helpline_numbers_are_the_real_ones():
    assert helplines() == {"crisis_line": "988", "emergency_number": "911", "poison_help": "1-800-222-1222",
                           "samhsa_helpline": "1-800-662-4357", "veterans_crisis_text": "838255"}


def test_domain_yml_writes_numbers_only_where_rasa_gives_them_itself_and_only_the_defined_ones():
    responses = yaml.safe_load(DOMAIN_FILE.read_text(encoding="utf-8"))["responses"]
    defined = set(helplines().values())
    quoting = set()
    for name, variants in responses.items():
        for _, text in strings(variants):
            numbers = set(NUMBER.findall(text))
            if numbers:
                quoting.add(name)
                assert numbers <= defined, f"{name} gives {numbers - defined}, not a number from knowledge.yml"
    assert quoting <= RASA_RESPONSES_WITH_NUMBERS, f"render {quoting - RASA_RESPONSES_WITH_NUMBERS} instead"


@pytest.mark.parametrize("path", [WIDGET, DEMO_PAGE], ids=["widget.js", "demo.html"])
def test_the_widget_and_the_demo_page_carry_no_helpline_numbers(path):
    source = path.read_text(encoding="utf-8")
    for name, number in helplines().items():
        assert not standalone(number).search(source), f"{path.name} writes {number}: use {{{name}}} or the texts"


def test_no_helpline_number_is_written_in_the_code_that_talks_to_visitors():
    for path in VISITOR_CODE:
        for text in python_strings(path):
            for number in helplines().values():
                assert not standalone(number).search(text), f"{path.name}: {text!r}"


# ------------------------------------------------------------------------------------ the widget

def widget_literals() -> List[str]:
    """widget.js's string literals, its style sheet and comments left out."""
    source = WIDGET.read_text(encoding="utf-8")
    start = source.index("var STYLES = [")
    source = source[:start] + source[source.index("].join(", start):]
    source = re.sub(r"/\*.*?\*/", "", source, flags=re.S)
    source = re.sub(r"(?m)^\s*//.*$", "", source)
    return re.findall(r'"((?:[^"\\\n]|\\.)*)"', source) + re.findall(r"'((?:[^'\\\n]|\\.)*)'", source)


def test_the_widget_has_no_words_of_its_own():
    # Key names, link relations, class lists and an internal error that is caught, never shown.
    technical = {"Enter", "Esc", "Escape", "no gateway", "noopener noreferrer", "row bot", "row visitor",
                 "use strict"}
    wordy = {text for text in widget_literals()
             if re.search(r"[A-Za-z]{2,}", text) and (re.search(r"[A-Za-z] +[A-Za-z]", text)
                                                       or re.match(r"^[A-Z][a-z]+", text))}
    assert wordy - technical == set(), "put these in data/knowledge.yml `messages`"
    source = WIDGET.read_text(encoding="utf-8")
    for name, message in knowledge().messages.items():
        if " " in message.text:
            assert message.text not in source, f"widget.js copies the message {name}"


def test_every_text_the_widget_asks_for_is_sent_to_it():
    used = set(re.findall(r'\bt\("(\w+)"\)', WIDGET.read_text(encoding="utf-8")))
    assert used and used <= set(WIDGET_MESSAGES), used - set(WIDGET_MESSAGES)
    # Error codes are looked up as t(code): each fallback the widget gets names a code.
    assert {"assistant_unavailable", "rate_limited", "message_too_long", "empty_message"} <= set(WIDGET_MESSAGES)


def test_the_widget_learns_the_message_limit_instead_of_writing_it():
    source = WIDGET.read_text(encoding="utf-8")
    assert not re.search(r"(?<![\w#./-])2_?000(?![\w/-])", source)  # not the SVG namespace's /2000/
    assert source.count(WIDGET_MARKER) == 1


# ------------------------------------------------------------------------------------ Python

def python_strings(path: Path) -> Iterator[str]:
    """The string constants of a Python file, docstrings (for developers) left out."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            yield node.value


def call_name(node: ast.Call) -> str:
    func = node.func
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


def is_text(node: ast.AST) -> bool:
    return isinstance(node, ast.JoinedStr) or (isinstance(node, ast.Constant) and isinstance(node.value, str))


def written_texts(path: Path) -> Iterator[str]:
    """Visitor text written into code: error frames, uttered texts, spoken messages, button titles."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call):
            name = call_name(node)
            if name in ("error_frame", "_error") and len(node.args) > 1 and is_text(node.args[1]):
                yield f"line {node.lineno}: {name}(…, {ast.unparse(node.args[1])})"
            spoken = {"say": 1, "resume": 1, "HTMLResponse": 0}.get(name)
            if spoken is not None and len(node.args) > spoken and is_text(node.args[spoken]):
                yield f"line {node.lineno}: {ast.unparse(node)}"
            for keyword in node.keywords:
                if name == "utter_message" and keyword.arg == "text" and is_text(keyword.value):
                    yield f"line {node.lineno}: utter_message(text={ast.unparse(keyword.value)})"
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if isinstance(key, ast.Constant) and key.value in ("title", "text", "message") and is_text(value):
                    yield f"line {node.lineno}: {{{key.value!r}: {ast.unparse(value)}}}"


@pytest.mark.parametrize("path", VISITOR_CODE, ids=lambda path: str(path.relative_to(REPO_ROOT)))
def test_no_visitor_text_is_written_in_code(path):
    assert list(written_texts(path)) == []
    source = path.read_text(encoding="utf-8")
    for name, message in knowledge().messages.items():
        # Three words or more: a two-word staff notice ("Not sent") may match a widget label by chance.
        if len(message.text.split()) >= 3:
            assert message.text not in source, f"{path.name} copies the message {name}"
    for entry in knowledge().entries:
        assert entry.short not in source, f"{path.name} copies the answer {entry.id}"


def test_the_action_servers_limit_is_the_setting():
    fallback = (REPO_ROOT / "actions" / "fallback.py").read_text(encoding="utf-8")
    assert "max_message_chars" in fallback and not re.search(r"\b2_?000\b", fallback)


# ------------------------------------------------------------------------------------ the gateway, served

@pytest.fixture
def gateway(tmp_path):
    """The gateway in-process, Rasa nowhere: every message it answers gets assistant_unavailable."""
    def make(**overrides):
        settings = console_settings(tmp_path, tracker_db_url=f"sqlite:///{tmp_path / 'tracker.db'}",
                                    rasa_port=free_port(), action_port=free_port(), **overrides)
        return TestClient(create_app(settings))
    return make


def rendered(settings, name: str, **values) -> str:
    """The message as the actions' render function gives it, independently of the gateway's helper."""
    message = knowledge().messages[name]
    details = {**settings.clinic_details(), "max_message_chars": settings.max_message_chars, **values}
    return render(message.text, message.requires, details, message.unknown)


@pytest.mark.parametrize("phone", [None, "(314) 555-0100"])
def test_the_gateways_unavailable_and_too_long_messages_are_the_knowledge_files(gateway, phone):
    with gateway(clinic_phone=phone, max_message_chars=120) as client:
        settings = client.app.state.settings
        with client.websocket_connect("/ws") as ws:
            hello(ws)
            ws.send_json({"type": "message", "client_id": "c-long", "text": "a" * 121})
            too_long = receive_json(ws)
            ws.send_json({"type": "message", "client_id": "c-empty", "text": "  "})
            empty = receive_json(ws)
            ws.send_json({"type": "message", "client_id": "c-1", "text": "what is iop"})
            while (frame := receive_json(ws))["type"] != "error":
                pass
            ws.send_json({"type": "dance"})
            unknown = receive_json(ws)
    assert too_long["code"] == "message_too_long"
    assert too_long["message"] == rendered(settings, "message_too_long") and "120" in too_long["message"]
    assert empty["message"] == rendered(settings, "empty_message")
    assert frame["code"] == "assistant_unavailable"
    assert frame["message"] == rendered(settings, "assistant_unavailable")
    assert "988" in frame["message"] and "911" in frame["message"]
    assert (phone or helplines()["samhsa_helpline"]) in frame["message"]
    assert unknown["message"] == rendered(settings, "bad_request_unknown_type", message_type="'dance'")


def test_the_welcome_carries_the_limit_from_settings_and_the_widgets_texts(gateway):
    with gateway(max_message_chars=321) as client:
        with client.websocket_connect("/ws") as ws:
            welcome = hello(ws)
        settings = client.app.state.settings
    assert welcome["max_message_chars"] == 321
    assert set(welcome["texts"]) == set(WIDGET_MESSAGES)
    for name, text in welcome["texts"].items():
        assert text == rendered(settings, name), name
    assert welcome["texts"]["widget_title"] == settings.clinic_name
    assert "321" in welcome["texts"]["message_too_long"]


def test_the_widget_is_served_with_the_same_texts_and_limit(gateway):
    with gateway(max_message_chars=500) as client:
        script = client.get("/widget.js").text
        with client.websocket_connect("/ws") as ws:
            welcome = hello(ws)
    served = json.loads(re.search(r"var SERVED = (\{.*\});", script)[1])
    assert served == {"max_message_chars": 500, "texts": welcome["texts"]}
    assert WIDGET_MARKER not in script


def test_the_demo_and_privacy_pages_take_their_words_from_the_knowledge_file(gateway):
    with gateway() as client:
        demo = client.get("/").text
        privacy = client.get("/privacy").text
    assert "{crisis_line}" not in demo and "{samhsa_helpline}" not in demo
    for number in ("988", "911", "1-800-662-4357"):
        assert number in demo
    texts = VisitorTexts(client.app.state.settings)
    for part in ("title", "heading", "text"):
        assert texts.message(f"privacy_page_{part}") in privacy


def test_a_knowledge_file_without_a_gateway_message_stops_start_up(gateway, monkeypatch):
    monkeypatch.delitem(knowledge().messages, "assistant_unavailable")
    with pytest.raises(ValueError, match="lacks the messages assistant_unavailable"):
        with gateway():
            pass


def test_every_message_the_gateway_names_exists():
    assert set(WIDGET_MESSAGES + GATEWAY_MESSAGES) <= set(knowledge().messages)
