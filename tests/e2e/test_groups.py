"""Groups, supergroups and forum topics: `/animate` in a caption or as a reply to a photo."""

from __future__ import annotations

from typing import Any

import pytest

from bot.wiring.application import BotApp
from bot.words.texts import ENGLISH
from tests.conftest import Sent, send_photo
from tests.e2e.conversation import FOREVER, created
from tests.e2e.taps import bot_message, buttons, saying, tap
from tests.emulators.aimlapi_emulator import AimlApiEmulator
from tests.emulators.telegram_emulator import (
    RecordedCall,
    TelegramEmulator,
    group_chat,
    message_update,
    parse_html,
    photo_message,
    photo_sizes,
    text_message,
    user,
)
from tests.images import make_image

ANN = user(111, "Ann")
BOB = user(222, "Bob")
GROUP = group_chat(-100500)
FORUM = group_chat(-100700, forum=True, title="Pets")
TOPIC = 42


@pytest.fixture(autouse=True)
def ready_at_first_status_call(aiml: AimlApiEmulator) -> None:
    """Every job ends at its first status call, so a test takes a fraction of a second; the
    poll schedule itself is tested on its own."""
    aiml.queued_polls = 0
    aiml.generating_polls = 0


def is_queued(call: RecordedCall) -> bool:
    return "Queued" in str(call.params.get("text", ""))


def unsent_photo(
    telegram: TelegramEmulator, *, chat: dict[str, Any], sender: dict[str, Any]
) -> dict[str, Any]:
    """A photo message the bot never receives (privacy mode), only sees inside a reply."""
    data = make_image(720, 1080)
    file_id = telegram.add_file(data)
    return photo_message(
        chat=chat, sender=sender, photo=photo_sizes(file_id, 720, 1080, len(data)), caption=None
    )


async def sentinel_job(telegram: TelegramEmulator, aiml: AimlApiEmulator) -> Sent:
    """A valid request in the group, run to its video: every earlier update is done by then."""
    videos = len(telegram.calls_to("sendVideo"))
    sent = send_photo(
        telegram, chat=GROUP, sender=BOB, caption=f"/animate@{telegram.bot_username} sentinel"
    )
    await telegram.wait_for("sendVideo", videos + 1, timeout=15)
    return sent


def replies_to(telegram: TelegramEmulator, method: str, message_id: int) -> list[RecordedCall]:
    return [
        c
        for c in telegram.calls_to(method)
        if c.params.get("reply_parameters", {}).get("message_id") == message_id
    ]


async def test_group_photo_with_addressed_command_comes_back_as_video_reply(
    bot: BotApp, telegram: TelegramEmulator, aiml: AimlApiEmulator
) -> None:
    caption = f"/animate@{telegram.bot_username} the cat yawns"
    sent = send_photo(telegram, chat=GROUP, sender=ANN, caption=caption)

    [ack] = await telegram.wait_for("sendMessage")
    assert ack.params["chat_id"] == GROUP["id"]
    assert ack.params["reply_parameters"]["message_id"] == sent.message_id
    [video] = await telegram.wait_for("sendVideo", timeout=15)
    assert video.params["chat_id"] == GROUP["id"]
    assert video.params["reply_parameters"]["message_id"] == sent.message_id
    assert "the cat yawns" in video.params["caption"]
    assert aiml.charged == 1
    assert aiml.creates[0].body["prompt"] == "the cat yawns"


async def test_group_photo_with_bare_command_comes_back_as_video_reply(
    bot: BotApp, telegram: TelegramEmulator, aiml: AimlApiEmulator
) -> None:
    sent = send_photo(telegram, chat=GROUP, sender=ANN, caption="/animate the dog runs")
    [video] = await telegram.wait_for("sendVideo", timeout=15)
    assert video.params["chat_id"] == GROUP["id"]
    assert video.params["reply_parameters"]["message_id"] == sent.message_id
    assert aiml.creates[0].body["prompt"] == "the dog runs"


async def test_basic_group_photo_with_command_comes_back_as_video_reply(
    bot: BotApp, telegram: TelegramEmulator, aiml: AimlApiEmulator
) -> None:
    basic = {"id": -4001, "type": "group", "title": "Family"}
    sent = send_photo(telegram, chat=basic, sender=ANN, caption="/animate waves hello")
    [video] = await telegram.wait_for("sendVideo", timeout=15)
    assert video.params["chat_id"] == -4001
    assert video.params["reply_parameters"]["message_id"] == sent.message_id
    assert aiml.charged == 1


async def test_group_photo_with_command_for_another_bot_is_ignored(
    bot: BotApp, telegram: TelegramEmulator, aiml: AimlApiEmulator
) -> None:
    ignored = send_photo(telegram, chat=GROUP, sender=ANN, caption="/animate@other_bot a wave")
    await sentinel_job(telegram, aiml)

    assert replies_to(telegram, "sendMessage", ignored.message_id) == []
    assert replies_to(telegram, "sendVideo", ignored.message_id) == []
    assert aiml.charged == 1  # the sentinel only
    assert [c.body["prompt"] for c in aiml.creates] == ["sentinel"]
    assert ignored.file_id not in str(telegram.calls_to("getFile"))


async def test_group_photo_without_command_is_ignored(
    bot: BotApp, telegram: TelegramEmulator, aiml: AimlApiEmulator
) -> None:
    plain = send_photo(telegram, chat=GROUP, sender=ANN, caption="look at my cat")
    bare = send_photo(telegram, chat=GROUP, sender=ANN, caption=None)
    await sentinel_job(telegram, aiml)

    for ignored in (plain, bare):
        assert replies_to(telegram, "sendMessage", ignored.message_id) == []
        assert ignored.file_id not in str(telegram.calls_to("getFile"))
    assert aiml.charged == 1
    assert [c.body["prompt"] for c in aiml.creates] == ["sentinel"]


async def test_group_text_command_for_another_bot_is_ignored(
    bot: BotApp, telegram: TelegramEmulator, aiml: AimlApiEmulator
) -> None:
    photo = unsent_photo(telegram, chat=GROUP, sender=ANN)
    command = text_message(chat=GROUP, sender=ANN, text="/animate@other_bot jump", reply_to=photo)
    telegram.push_update(message_update(command))
    await sentinel_job(telegram, aiml)

    assert replies_to(telegram, "sendMessage", command["message_id"]) == []
    assert replies_to(telegram, "sendVideo", photo["message_id"]) == []
    assert aiml.charged == 1


async def test_group_animate_reply_to_photo_answers_the_photo(
    bot: BotApp, telegram: TelegramEmulator, aiml: AimlApiEmulator
) -> None:
    photo = unsent_photo(telegram, chat=GROUP, sender=BOB)
    command = text_message(
        chat=GROUP, sender=ANN, text="/animate the bird flies away", reply_to=photo
    )
    telegram.push_update(message_update(command))

    [ack] = await telegram.wait_for("sendMessage")
    assert ack.params["reply_parameters"]["message_id"] == command["message_id"]
    [video] = await telegram.wait_for("sendVideo", timeout=15)
    assert video.params["chat_id"] == GROUP["id"]
    assert video.params["reply_parameters"]["message_id"] == photo["message_id"]
    assert aiml.creates[0].body["prompt"] == "the bird flies away"
    assert aiml.charged == 1


async def test_group_addressed_animate_reply_to_photo_answers_the_photo(
    bot: BotApp, telegram: TelegramEmulator, aiml: AimlApiEmulator
) -> None:
    photo = unsent_photo(telegram, chat=GROUP, sender=BOB)
    command = text_message(
        chat=GROUP,
        sender=ANN,
        text=f"/animate@{telegram.bot_username} leaves fall",
        reply_to=photo,
    )
    telegram.push_update(message_update(command))
    [video] = await telegram.wait_for("sendVideo", timeout=15)
    assert video.params["reply_parameters"]["message_id"] == photo["message_id"]
    assert aiml.creates[0].body["prompt"] == "leaves fall"


async def test_group_caption_command_without_prompt_asks_for_one(
    bot: BotApp, telegram: TelegramEmulator, aiml: AimlApiEmulator
) -> None:
    sent = send_photo(telegram, chat=GROUP, sender=ANN, caption="/animate")
    [reply] = await telegram.wait_for("sendMessage")
    assert reply.params["text"] == ENGLISH.ANIMATE_NEEDS_PROMPT
    assert reply.params["reply_parameters"]["message_id"] == sent.message_id
    assert aiml.charged == 0
    assert aiml.creates == []
    assert telegram.file_downloads == []


async def test_group_reply_command_without_prompt_asks_for_one(
    bot: BotApp, telegram: TelegramEmulator, aiml: AimlApiEmulator
) -> None:
    photo = unsent_photo(telegram, chat=GROUP, sender=BOB)
    command = text_message(chat=GROUP, sender=ANN, text="/animate", reply_to=photo)
    telegram.push_update(message_update(command))
    [reply] = await telegram.wait_for("sendMessage")
    assert reply.params["text"] == ENGLISH.ANIMATE_NEEDS_PROMPT
    assert reply.params["reply_parameters"]["message_id"] == command["message_id"]
    assert aiml.creates == []


async def test_group_animate_not_replying_to_anything_explains_how_to_use_it(
    bot: BotApp, telegram: TelegramEmulator, aiml: AimlApiEmulator
) -> None:
    command = text_message(chat=GROUP, sender=ANN, text="/animate x")
    telegram.push_update(message_update(command))
    [reply] = await telegram.wait_for("sendMessage")
    assert reply.params["text"] == ENGLISH.ANIMATE_NEEDS_PHOTO
    assert "Reply to a photo" in reply.params["text"]
    assert reply.params["chat_id"] == GROUP["id"]
    assert reply.params["reply_parameters"]["message_id"] == command["message_id"]
    assert aiml.creates == []


async def test_group_animate_replying_to_a_text_message_says_it_has_no_photo(
    bot: BotApp, telegram: TelegramEmulator, aiml: AimlApiEmulator
) -> None:
    chatter = text_message(chat=GROUP, sender=BOB, text="nice weather today")
    command = text_message(chat=GROUP, sender=ANN, text="/animate x", reply_to=chatter)
    telegram.push_update(message_update(command))
    [reply] = await telegram.wait_for("sendMessage")
    assert reply.params["text"] == ENGLISH.ANIMATE_REPLY_NOT_PHOTO
    assert "no photo" in reply.params["text"]
    assert reply.params["reply_parameters"]["message_id"] == command["message_id"]
    assert aiml.creates == []
    assert telegram.file_downloads == []


async def test_forum_topic_request_answers_inside_the_topic(
    bot: BotApp, telegram: TelegramEmulator, aiml: AimlApiEmulator
) -> None:
    sent = send_photo(
        telegram,
        chat=FORUM,
        sender=ANN,
        caption="/animate the parrot dances",
        thread_id=TOPIC,
        is_topic_message=True,
    )

    [ack] = await telegram.wait_for("sendMessage")
    assert ack.params["chat_id"] == FORUM["id"]
    assert ack.params["message_thread_id"] == TOPIC
    [queued] = await telegram.wait_for("editMessageText", where=is_queued)
    # An edit names no topic: it changes the acknowledgement, which lives in the topic.
    edited = telegram.messages[(FORUM["id"], int(queued.params["message_id"]))]
    assert edited["message_thread_id"] == TOPIC
    assert edited["text"].startswith("✅ Queued")
    [video] = await telegram.wait_for("sendVideo", timeout=15)
    assert video.params["chat_id"] == FORUM["id"]
    assert video.params["message_thread_id"] == TOPIC
    assert video.params["reply_parameters"]["message_id"] == sent.message_id


async def test_forum_general_topic_request_passes_no_thread_id(
    bot: BotApp, telegram: TelegramEmulator, aiml: AimlApiEmulator
) -> None:
    # A reply in the General topic carries a thread id, but it is no topic: sending to it fails.
    sent = send_photo(
        telegram,
        chat=FORUM,
        sender=ANN,
        caption="/animate the fish swims",
        thread_id=7,
        is_topic_message=False,
    )
    [ack] = await telegram.wait_for("sendMessage")
    assert "message_thread_id" not in ack.params
    [video] = await telegram.wait_for("sendVideo", timeout=15)
    assert "message_thread_id" not in video.params
    assert video.params["reply_parameters"]["message_id"] == sent.message_id
    for call in telegram.calls_to("sendMessage") + telegram.calls_to("sendChatAction"):
        assert "message_thread_id" not in call.params


async def test_forum_reply_to_a_photo_inside_a_topic_answers_the_photo_in_the_topic(
    bot: BotApp, telegram: TelegramEmulator, aiml: AimlApiEmulator
) -> None:
    photo = unsent_photo(telegram, chat=FORUM, sender=BOB)
    photo |= {"message_thread_id": TOPIC, "is_topic_message": True}
    command = text_message(
        chat=FORUM,
        sender=ANN,
        text="/animate the hamster eats",
        reply_to=photo,
        thread_id=TOPIC,
        is_topic_message=True,
    )
    telegram.push_update(message_update(command))
    [video] = await telegram.wait_for("sendVideo", timeout=15)
    assert video.params["message_thread_id"] == TOPIC
    assert video.params["reply_parameters"]["message_id"] == photo["message_id"]


async def test_forum_animate_pointing_at_the_topic_opening_counts_as_no_reply(
    bot: BotApp, telegram: TelegramEmulator, aiml: AimlApiEmulator
) -> None:
    # In a topic, a message that replies to nothing still has `reply_to_message`: the
    # service message that created the topic.
    opening = {
        "message_id": TOPIC,
        "date": 1_700_000_000,
        "chat": FORUM,
        "from": BOB,
        "message_thread_id": TOPIC,
        "is_topic_message": True,
        "forum_topic_created": {"name": "Pets", "icon_color": 7322096},
    }
    command = text_message(
        chat=FORUM,
        sender=ANN,
        text="/animate x",
        reply_to=opening,
        thread_id=TOPIC,
        is_topic_message=True,
    )
    telegram.push_update(message_update(command))
    [reply] = await telegram.wait_for("sendMessage")
    assert reply.params["text"] == ENGLISH.ANIMATE_NEEDS_PHOTO
    assert reply.params["message_thread_id"] == TOPIC
    assert aiml.creates == []
    assert telegram.file_downloads == []


async def test_help_in_a_group_opens_with_how_to_ask_there(
    bot: BotApp, telegram: TelegramEmulator
) -> None:
    telegram.push_update(message_update(text_message(chat=GROUP, sender=ANN, text="/help")))
    [reply] = await telegram.wait_for("sendMessage")
    text, _ = parse_html(reply.params["text"])
    first = text.split("\n\n")[1]
    assert first.startswith("Here in the group") and "/animate" in first
    assert text.index("Here in the group") < text.index("In a private chat")


# --------------------------------------------------------------------------- migration

#: A basic group, and the supergroup it becomes: Telegram then answers every send to the old
#: id with the new one, and the supergroup numbers its messages anew.
OLD_GROUP = {"id": -4242, "type": "group", "title": "Family"}
SUPERGROUP = group_chat(-1009999, title="Family")
UPGRADED = "Bad Request: group chat was upgraded to a supergroup chat"


def video_in(telegram: TelegramEmulator, chat: dict[str, Any], prompt: str) -> RecordedCall:
    [video] = [
        c
        for c in telegram.calls_to("sendVideo")
        if c.params["chat_id"] == chat["id"] and prompt in c.params["caption"]
    ]
    return video


async def videos_in(telegram: TelegramEmulator, chat: dict[str, Any], count: int) -> None:
    await telegram.wait_for(
        "sendVideo", count, where=lambda c: c.params["chat_id"] == chat["id"], timeout=15
    )


async def test_supergroup_request_with_the_id_of_a_delivered_old_group_request_gets_its_video(
    bot: BotApp, telegram: TelegramEmulator, aiml: AimlApiEmulator
) -> None:
    aiml.queued_polls = FOREVER
    first = send_photo(telegram, chat=OLD_GROUP, sender=ANN, caption="/animate first")
    second = send_photo(telegram, chat=OLD_GROUP, sender=ANN, caption="/animate second")
    telegram.fail("sendVideo", 400, UPGRADED, parameters={"migrate_to_chat_id": SUPERGROUP["id"]})
    aiml.complete_now(await created(aiml, "first"))
    await videos_in(telegram, SUPERGROUP, 1)
    # The photo is a message of the old group: in the supergroup its id is another message's.
    assert "reply_parameters" not in video_in(telegram, SUPERGROUP, "first").params

    # The old group's other job goes straight to where the group went.
    aiml.complete_now(await created(aiml, "second"))
    await videos_in(telegram, SUPERGROUP, 2)
    assert [c.params["chat_id"] for c in telegram.calls_to("sendVideo")] == [
        OLD_GROUP["id"],
        SUPERGROUP["id"],
        SUPERGROUP["id"],
    ]

    # A request in the supergroup whose message id the old group used too is a new request.
    aiml.queued_polls = 0
    for old in (first, second):
        send_photo(
            telegram,
            chat=SUPERGROUP,
            sender=BOB,
            caption=f"/animate again {old.message_id}",
            message_id=old.message_id,
        )
    await videos_in(telegram, SUPERGROUP, 4)
    for old in (first, second):
        video = video_in(telegram, SUPERGROUP, f"again {old.message_id}")
        assert video.params["reply_parameters"]["message_id"] == old.message_id
    assert aiml.charged == 4


async def test_old_group_job_is_delivered_where_the_supergroup_has_a_job_of_the_same_id(
    bot: BotApp, telegram: TelegramEmulator, aiml: AimlApiEmulator
) -> None:
    aiml.queued_polls = FOREVER
    old = send_photo(telegram, chat=OLD_GROUP, sender=ANN, caption="/animate old")
    old_generation = await created(aiml, "old")
    # The group became a supergroup, which the bot learns only when it next sends there; one
    # of the supergroup's first messages has the old photo's id.
    new = send_photo(
        telegram, chat=SUPERGROUP, sender=BOB, caption="/animate new", message_id=old.message_id
    )
    aiml.complete_now(await created(aiml, "new"))
    await videos_in(telegram, SUPERGROUP, 1)
    assert video_in(telegram, SUPERGROUP, "new").params["reply_parameters"]["message_id"] == (
        new.message_id
    )

    telegram.fail("sendVideo", 400, UPGRADED, parameters={"migrate_to_chat_id": SUPERGROUP["id"]})
    aiml.complete_now(old_generation)
    await videos_in(telegram, SUPERGROUP, 2)
    assert "reply_parameters" not in video_in(telegram, SUPERGROUP, "old").params
    assert aiml.charged == 2


async def test_again_under_a_video_sent_after_the_migration_answers_in_the_supergroup(
    bot: BotApp, telegram: TelegramEmulator, aiml: AimlApiEmulator
) -> None:
    telegram.fail("sendVideo", 400, UPGRADED, parameters={"migrate_to_chat_id": SUPERGROUP["id"]})
    send_photo(telegram, chat=OLD_GROUP, sender=ANN, caption="/animate waves")
    await videos_in(telegram, SUPERGROUP, 1)
    video = await bot_message(telegram, SUPERGROUP["id"], saying("waves"), "the video")
    [(_, again)] = buttons(video)
    answer = await tap(telegram, sender=ANN, message=video, data=again)
    assert answer.params.get("text") == ENGLISH.ON_ITS_WAY
    await videos_in(telegram, SUPERGROUP, 2)
    # The photo is the old group's message: the new video answers the one tapped under.
    last = telegram.calls_to("sendVideo")[-1]
    assert last.params["reply_parameters"]["message_id"] == video["message_id"]
    assert aiml.charged == 2
