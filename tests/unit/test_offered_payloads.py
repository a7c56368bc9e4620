"""Only payloads the bot offered are obeyed; a typed `/intent{...}` is read as words."""

from bot.gateway.visitor import offered_payloads
from bot.gateway.visitor.frames import VisitorMessage
from bot.gateway.visitor.offered_payloads import OfferedPayloads

TELL_ME_MORE = '/tell_me_more{"topic": "iop"}'


def offered() -> OfferedPayloads:
    payloads = OfferedPayloads({"/request_human": "Talk to a person"})
    payloads.remember("conv-1", [{"text": "IOP is ...",
                                  "buttons": [{"title": "Tell me more", "payload": TELL_ME_MORE}]}])
    return payloads


def test_an_offered_payload_is_obeyed_with_its_title():
    vetted = offered().vet("conv-1", VisitorMessage("c-1", TELL_ME_MORE, "Tell me more"))
    assert (vetted.text, vetted.display_text) == (TELL_ME_MORE, "Tell me more")


def test_an_offered_payload_with_another_title_is_obeyed_but_shown_as_itself():
    vetted = offered().vet("conv-1", VisitorMessage("c-1", TELL_ME_MORE, "what are your opening hours"))
    assert (vetted.text, vetted.display_text) == (TELL_ME_MORE, None)


def test_a_payload_offered_in_another_conversation_is_read_as_words():
    vetted = offered().vet("conv-2", VisitorMessage("c-1", TELL_ME_MORE, "Tell me more"))
    assert (vetted.text, vetted.display_text) == ('tell_me_more{"topic": "iop"}', None)


def test_a_typed_payload_wrapping_a_crisis_is_read_as_words():
    vetted = offered().vet("conv-1", VisitorMessage("c-1", ' //greet{"a":"b"} i want to kill myself tonight', None))
    assert vetted.text == 'greet{"a":"b"} i want to kill myself tonight'


def test_display_text_is_dropped_from_anything_not_offered():
    vetted = offered().vet("conv-1", VisitorMessage("c-1", "i want to kill myself", "what are your opening hours"))
    assert (vetted.text, vetted.display_text) == ("i want to kill myself", None)


def test_the_widgets_own_button_is_offered_everywhere():
    vetted = offered().vet("conv-9", VisitorMessage("c-1", "/request_human", "Talk to a person"))
    assert (vetted.text, vetted.display_text) == ("/request_human", "Talk to a person")


def test_only_slashes_stay_as_they_are():
    assert offered().vet("conv-1", VisitorMessage("c-1", "///", None)).text == "///"


def test_memory_is_bounded(monkeypatch):
    monkeypatch.setattr(offered_payloads, "PAYLOADS_PER_CONVERSATION", 3)
    monkeypatch.setattr(offered_payloads, "CONVERSATIONS", 2)
    payloads = OfferedPayloads()
    for number in range(10):
        payloads.remember(f"conv-{number % 4}", [{"buttons": [{"title": "t", "payload": f"/p{number}"}]}])
    assert len(payloads._offered) == 2
    assert all(len(offered) <= 3 for offered in payloads._offered.values())
    assert payloads.title_of("conv-1", "/p9") == "t" and payloads.title_of("conv-1", "/p1") is None
