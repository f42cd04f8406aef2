"""Wiring: the whole surface of the bot, built in one place."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from typing import Any

import aiohttp
from telegram import (
    BotCommand,
    BotCommandScope,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, Conflict, TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    Defaults,
    MessageHandler,
    PreCheckoutQueryHandler,
    TypeHandler,
    filters,
)

from bot.aimlapi.client import AimlApiClient
from bot.aimlapi.pacing import CreatePacer
from bot.engine.chat_port import Chat
from bot.engine.delivery import Delivery, JobChat
from bot.engine.durations import KEEP, GenerationTimes
from bot.engine.keyboards import (
    AGAIN_PATTERN,
    BUY_PATTERN,
    CANCEL_PATTERN,
    FIX_PATTERN,
    OPTIMIZER_PATTERN,
    RETRY_PATTERN,
    STOP_PAID_PATTERN,
)
from bot.engine.leases import Leaseholder, instance_owner
from bot.engine.line import Line
from bot.engine.meter import Meter
from bot.engine.pipeline import Pipeline
from bot.engine.poller import Poller
from bot.engine.progress import StatusMessages
from bot.engine.schedule import tick_interval
from bot.engine.submission import Submitter
from bot.engine.tuning import Clock, Tuning
from bot.logcontext import name_instance
from bot.policy.admission import Admissions
from bot.policy.alerts import AdminAlerts, send_alerts
from bot.policy.preferences import Preferences
from bot.wiring.metrics import METRICS_KEY, BotMetrics, metrics_of
from bot.wiring.services import SERVICES_KEY, Services
from bot.wiring.settings import Settings
from bot.wiring.steps import STEPS_KEY, Steps, steps_of
from bot.wiring.webserver import NotNow, WebServer
from bot.words.texts import ENGLISH, TRANSLATIONS
from chat.telegram_chat import TelegramChat, TimedRequest
from handlers.admin import on_allow, on_deny, on_stats
from handlers.buttons import (
    on_again,
    on_cancel_button,
    on_fix,
    on_stop_paid,
    on_unknown_button,
)
from handlers.commands import on_cancel, on_help, on_id, on_status
from handlers.gate import keep_strangers_out
from handlers.intake import (
    ANIMATE_COMMAND,
    on_animate_command,
    on_group_image,
    on_private_image,
    on_private_text,
)
from handlers.language import bind_update_language
from handlers.payments import (
    on_balance,
    on_buy,
    on_buy_button,
    on_paysupport,
    on_pre_checkout,
    on_refund,
    on_successful_payment,
    on_terms,
)
from handlers.settings_menu import on_optimizer_button, on_settings
from storage import JobStore
from storage.counts import AccessStore
from storage.health import AlertStore, PaceStore
from storage.inbox import UpdateInbox
from storage.leases import LeaseStore

log = logging.getLogger(__name__)

#: The running bot, as built by `build_application`.
BotApp = Application[Any, Any, Any, Any, Any, Any]

#: The updates the bot has handlers for: all it asks of Telegram, in either mode.
#: (A payment's checkout comes as a pre_checkout_query; its success as a message.)
ALLOWED_UPDATES = [Update.MESSAGE, Update.CALLBACK_QUERY, Update.PRE_CHECKOUT_QUERY]
HTTP_SERVER_KEY = "http_server"
UPDATE_FEED_KEY = "update_feed"
HEARTBEAT_KEY = "heartbeat"
LAST_TICK_KEY = "last_tick_at"

_IMAGES = filters.PHOTO | filters.Document.ALL
_NEW_MESSAGES = filters.UpdateType.MESSAGE  # an edited caption is not a new request
_CAPTION_COMMAND = filters.CaptionRegex(ANIMATE_COMMAND)


def command_menus(
    *, payments: bool = False
) -> list[tuple[BotCommandScope, str | None, list[BotCommand]]]:
    """Every command menu the bot registers: (scope, language code, commands), for private
    chats and for groups, in English as the default (no language code) and in each
    translation under its own code; with `payments`, the private menu has the commands of
    buying too. The descriptions come from bot/words/texts.py."""
    languages = [(None, ENGLISH), *TRANSLATIONS.items()]
    return [
        (scope, code, [BotCommand(command, about) for command, about in menu])
        for code, words in languages
        for scope, menu in (
            (
                BotCommandScopeAllPrivateChats(),
                words.PRIVATE_COMMANDS + (words.PAYMENT_COMMANDS if payments else ()),
            ),
            (BotCommandScopeAllGroupChats(), words.GROUP_COMMANDS),
        )
    ]


async def advance_due_jobs_tick(context: ContextTypes.DEFAULT_TYPE) -> None:
    """The JobQueue tick: every due job is polled, delivered or explained.

    The work runs as its own task, so that one slow job (a large upload, a slow API) never
    makes the next ticks wait; the application awaits such tasks when it stops.
    """
    if not context.application.running:
        return  # stopping: start nothing new
    steps = steps_of(context.bot_data)
    context.bot_data[LAST_TICK_KEY] = steps.clock()
    metrics_of(context.bot_data).poll_tick_ran()
    context.application.create_task(steps.poller.advance_due_jobs(), name="advance_due_jobs")


async def submit_waiting_jobs_tick(context: ContextTypes.DEFAULT_TYPE) -> None:
    """The line's tick: waiting jobs go to the paid API in order, as slots free up, and the
    jobs still waiting are shown their new places.

    Only the taking is awaited here. The submissions and the edits run as their own task, like
    the poll tick's work: a slow create call never keeps the next tick from filling a slot that
    frees up meanwhile.
    """
    if not context.application.running:
        return  # stopping: a submission begun now could be cut off halfway
    line = steps_of(context.bot_data).line
    taken = await line.take_from_line()
    if not context.application.running:
        return  # it stopped meanwhile: jobs just taken stay RECEIVED, and resume at next start
    context.application.create_task(line.advance_line(taken), name="advance_line")


class Heartbeat:
    """This instance's heartbeat, every `every` seconds (a third of LEASE_SECONDS) from the
    start until the end of post_shutdown: its leases are renewed, so that no other instance
    takes its work over while it runs (also while a stop lets the work in hand finish); and,
    while the application runs, the work that instances which died (or stopped halfway) left
    behind, once their leases ran out, is taken over: requests cut off before the paid API go
    on, submissions cut off halfway are explained (never sent again), and webhook updates
    kept but not handled to the end are handled.

    An asyncio task of its own, not a JobQueue job: the JobQueue stops before the tasks of a
    stopping application are awaited, and skips a run that comes a second late."""

    def __init__(self, application: BotApp, steps: Steps, *, every: float) -> None:
        self._application, self._steps, self._every = application, steps, every
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="heartbeat")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                await self.beat()
            except Exception:  # the next beat tries again; leases last three beats
                log.exception("the heartbeat failed")
            await asyncio.sleep(self._every)

    async def beat(self) -> None:
        """One beat: renew, and (while the application runs) take over what was left."""
        steps, application = self._steps, self._application
        await steps.leases.renew()
        if not application.running:
            return  # starting or stopping: take nothing new on
        resumed, interrupted = await steps.leases.recover_abandoned()
        if resumed or interrupted:
            log.warning(
                "taken over from an instance that stopped or was lost (this one's last run, "
                "or another): %d request(s) resume, %d interrupted submission(s) will be "
                "explained to their users",
                resumed,
                interrupted,
            )
        feed = application.bot_data.get(UPDATE_FEED_KEY)
        if isinstance(feed, UpdateFeed) and application.running:
            await feed.replay()


async def take_over_at_start(context: ContextTypes.DEFAULT_TYPE) -> None:
    """Once the application runs, at once: what a previous run or a lost instance left (the
    heartbeat's next beat is up to a third of LEASE_SECONDS away)."""
    heartbeat = context.bot_data.get(HEARTBEAT_KEY)
    if isinstance(heartbeat, Heartbeat):
        await heartbeat.beat()


async def send_admin_alerts_tick(context: ContextTypes.DEFAULT_TYPE) -> None:
    """The alerts tick: whatever the admins must hear of (`bot.policy.alerts`) goes out to them."""
    steps = steps_of(context.bot_data)
    await send_alerts(
        steps.job_chat.chat, steps.alerts, steps.settings.admin_user_ids, now=steps.clock()
    )


#: Why the bot stopped itself, in `bot_data`: the launch tells it in one line.
STOPPED_BECAUSE_KEY = "stopped_because"


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log what a handler or the tick raised, and which update it was handling; users hear
    about it from the job's own notice. A second poller on the token stops this one: two
    would take turns at the updates, and each would miss some."""
    if isinstance(context.error, Conflict) and update is None:
        if STOPPED_BECAUSE_KEY not in context.bot_data:
            context.bot_data[STOPPED_BECAUSE_KEY] = (
                "another bot is polling Telegram with this TELEGRAM_BOT_TOKEN (409 Conflict). "
                "Run one instance in polling mode, or several in webhook mode."
            )
            context.application.stop_running()
        return
    if isinstance(update, Update):
        log.error("update %s: unhandled error", update.update_id, exc_info=context.error)
    else:
        log.error("unhandled error", exc_info=context.error)


class NotStarted(Exception):
    """A start-up failure with what to fix, told as one line (`bot.wiring.launch`)."""


class UpdateFeed:
    """Takes each update Telegram posts to the webhook: kept in the database before it is
    answered 200, then handled, then marked handled. An update posted again (to this instance
    or another on the same database) is taken once. One kept but not handled to the end (the
    process died meanwhile) is handled at the next start (`replay`). While the application is
    not running, posts are refused, so that Telegram sends them again later."""

    def __init__(
        self, application: BotApp, inbox: UpdateInbox, clock: Clock, leases: Leaseholder
    ) -> None:
        self._application, self._inbox, self._clock = application, inbox, clock
        self._leases = leases

    async def __call__(self, data: dict[str, Any]) -> None:
        update_id = int(data["update_id"])
        if not self._application.running:
            raise NotNow(f"update {update_id} came while the bot is not running")
        if not await self._inbox.keep(data, now=self._clock(), lease=self._leases.lease()):
            log.info("update %s came again; taken once already", update_id)
            return
        self._application.create_task(self.handle(data), name=f"update {update_id}")

    async def handle(self, data: dict[str, Any]) -> None:
        """Handle one kept update with the application's handlers, then mark it handled."""
        update_id = int(data["update_id"])
        try:
            update = Update.de_json(data, self._application.bot)
        except Exception as error:  # a resend would fail alike: handled, as far as it goes
            log.warning("update %s could not be read (%s); dropped", update_id, error)
        else:
            await self._application.process_update(update)
        await self._inbox.mark_handled(update_id, now=self._clock())

    async def replay(self) -> None:
        """Start handling the updates that an instance (this one in an earlier run, or
        another) kept but did not handle to the end, once their lease ran out, oldest first;
        then forget those handled over a day ago (Telegram resends none that late)."""
        abandoned = await self._inbox.claim_abandoned(lease=self._leases.lease(), now=self._clock())
        for data in abandoned:
            log.warning(
                "update %s was kept but not handled to the end; handled now", data["update_id"]
            )
            # Each in a task of its own, as a post's: one slow update never holds up the rest.
            self._application.create_task(self.handle(data), name=f"update {data['update_id']}")
        await self._inbox.forget_handled(before=self._clock() - 86_400.0)


class Readiness:
    """What /readyz checks: the database answers, and the poll tick ran lately."""

    def __init__(self, application: BotApp, steps: Steps, *, tick_every: float) -> None:
        self._application, self._steps = application, steps
        # A tick a few intervals late is a busy loop; many intervals late, a stuck one.
        self._patience = max(30.0, 10 * tick_every)
        self._started = steps.clock()

    async def __call__(self) -> str | None:
        steps = self._steps
        if not self._application.running:
            return "the bot is starting or stopping"
        try:
            await steps.store.ping()
        except Exception as error:
            return f"the database does not answer ({type(error).__name__})"
        now = steps.clock()
        last = self._application.bot_data.get(LAST_TICK_KEY, self._started)
        if now - last > self._patience:
            return f"the poll tick last ran {now - last:.0f} s ago"
        return None


async def stop_http_server(application: BotApp) -> None:
    """Stop the bot's HTTP server, if it runs: before the application stops, so that no
    update is taken that nothing would handle. Safe to call twice."""
    server = application.bot_data.pop(HTTP_SERVER_KEY, None)
    if isinstance(server, WebServer):
        await server.stop()


def assemble(
    chat: Chat,
    services: Services,
    settings: Settings,
    *,
    clock: Clock,
    tuning: Tuning,
    bot_username: str,
    generation_times: GenerationTimes,
    meter: Meter,
    instance: str | None = None,
) -> Steps:
    """Build every step once, each with only what it uses, over the open `services`; the
    steps that report their events to `meter` are handed it. `instance`: this instance's
    name in the leases (by default INSTANCE_NAME's, with the pid: `instance_owner`)."""
    store = services.store
    alerts = AdminAlerts(AlertStore.of(store))
    leases = Leaseholder(
        LeaseStore.of(store),
        clock,
        owner=instance or instance_owner(settings.instance_name),
        seconds=settings.lease_seconds,
    )
    # The pace of create calls, shared by every instance, slowed down once the API said it is
    # busy.
    pacer = CreatePacer(
        PaceStore.of(store),
        clock,
        pause_seconds=tuning.busy_pause_seconds,
        paced_rate=tuning.paced_creates_per_minute,
    )
    job_chat = JobChat(chat, store, clock)
    progress = StatusMessages(
        job_chat,
        store,
        clock,
        generation_times,
        edit_private=tuning.progress_edit_private,
        edit_group=tuning.progress_edit_group,
    )
    submitter = Submitter(
        services.api,
        store,
        clock,
        pacer,
        alerts,
        meter=meter,
        leases=leases,
        tuning=tuning,
        submit_patience_seconds=settings.submit_patience_seconds,
        poll_interval_seconds=settings.poll_interval_seconds,
    )
    pipeline = Pipeline(
        chat,
        store,
        clock,
        progress,
        submitter,
        generation_times,
        image_slots=asyncio.Semaphore(tuning.images_at_once),
        frame_slots=asyncio.Semaphore(tuning.frames_at_once),
        submit_patience_seconds=settings.submit_patience_seconds,
        meter=meter,
    )
    delivery = Delivery(
        job_chat,
        services.downloads,
        late_patience_seconds=tuning.late_patience_seconds,
        meter=meter,
    )
    return Steps(
        settings=settings,
        store=store,
        clock=clock,
        bot_username=bot_username,
        generation_times=generation_times,
        alerts=alerts,
        leases=leases,
        admission=Admissions(store, clock, settings, alerts, leases),
        preferences=Preferences(store, clock, prompt_optimizer=settings.prompt_optimizer),
        job_chat=job_chat,
        progress=progress,
        pipeline=pipeline,
        line=Line(
            store,
            clock,
            pipeline,
            progress,
            pacer,
            leases,
            max_active_jobs=settings.max_active_jobs,
            meter=meter,
        ),
        poller=Poller(
            services.api,
            store,
            clock,
            delivery,
            progress,
            pipeline,
            generation_times,
            leases,
            tuning=tuning,
            poll_interval_seconds=settings.poll_interval_seconds,
            job_timeout_seconds=settings.job_timeout_seconds,
            poll_concurrency=settings.poll_concurrency,
            meter=meter,
        ),
    )


def build_application(
    settings: Settings, *, clock: Clock = time.time, tuning: Tuning | None = None
) -> BotApp:
    """The bot as `python -m bot` runs it. Resources open in post_init and close in
    post_shutdown, so building has no side effects."""
    knobs = tuning or Tuning()
    # One per application, in a registry of its own: built first, as Telegram's transport
    # reports to it.
    metrics = BotMetrics(poll_tick_every=tick_interval(settings.poll_interval_seconds))

    async def post_init(application: BotApp) -> None:
        # Whatever fails here, everything opened so far is closed on the way out: post_shutdown
        # closes only what made it into bot_data, and a database left open keeps its lock.
        async with contextlib.AsyncExitStack() as opened:
            services = await open_services(opened)
            steps = assemble(
                TelegramChat(application.bot),
                services,
                settings,
                clock=clock,
                tuning=knobs,
                bot_username=application.bot.username,
                generation_times=GenerationTimes(
                    reversed(await services.store.recent_generation_seconds(limit=KEEP))
                ),
                meter=metrics,
            )
            name_instance(steps.leases.owner)  # from here on, every line names the instance
            # The server and the webhook first: a refused webhook URL or a port taken stops the
            # start before anything else happens. Posts wait for the application to run.
            if settings.serves_http:
                await start_http_server(application, steps)  # post_shutdown stops it
            await start_steps(application, steps)
            application.bot_data[SERVICES_KEY] = services
            application.bot_data[STEPS_KEY] = steps
            opened.pop_all()  # from here on, post_shutdown closes them

    async def start_http_server(application: BotApp, steps: Steps) -> None:
        webhook = settings.webhook_mode
        inbox = UpdateInbox.of(steps.store)
        feed = UpdateFeed(application, inbox, clock, steps.leases) if webhook else None
        server = WebServer(
            host=settings.http_host,
            port=settings.http_port,
            on_update=feed,
            webhook_path=settings.webhook_path if webhook else None,
            secret=settings.telegram_webhook_secret.get_secret_value() or None,
            readiness=Readiness(
                application, steps, tick_every=tick_interval(settings.poll_interval_seconds)
            ),
            metrics=functools.partial(metrics.page, AccessStore.of(steps.store)),
        )
        try:
            await server.start()
        except OSError as error:
            raise NotStarted(
                f"the HTTP server cannot listen on HTTP_HOST={settings.http_host} "
                f"HTTP_PORT={settings.http_port} ({error.strerror or error}). Free the port, "
                "or set another HTTP_PORT."
            ) from None
        application.bot_data[HTTP_SERVER_KEY] = server
        if not webhook:
            return
        # Set at every start, and never removed at shutdown: other instances may still serve.
        try:
            await application.bot.set_webhook(
                settings.telegram_webhook_url,
                secret_token=settings.telegram_webhook_secret.get_secret_value(),
                allowed_updates=ALLOWED_UPDATES,
            )
        except BadRequest as error:
            raise NotStarted(
                f"Telegram refused TELEGRAM_WEBHOOK_URL={settings.telegram_webhook_url} "
                f"({error.message}). Telegram posts only to https:// on ports 443, 80, 88 or 8443."
            ) from None
        except TelegramError as error:
            raise NotStarted(
                f"Telegram did not set the webhook ({error.message}); try again later."
            ) from None
        assert feed is not None
        application.bot_data[UPDATE_FEED_KEY] = feed  # the leases' tick replays what was cut off
        if settings.telegram_webhook_url.startswith("http://"):
            log.warning(
                "TELEGRAM_WEBHOOK_URL is plain http: only a local Bot API server posts there; "
                "Telegram itself needs https"
            )

    async def open_services(opened: contextlib.AsyncExitStack) -> Services:
        store = await JobStore.open(settings.database)
        opened.push_async_callback(store.close)
        if not settings.webhook_mode:
            # One poller per token: a second on the same database is refused before it asks
            # Telegram, which would end the first one's poll (and the two would take turns).
            await store.database.claim_polling()
        api = AimlApiClient(
            settings.aimlapi_base_url,
            settings.aimlapi_key.get_secret_value(),
            endpoint=settings.aimlapi_endpoint,
            create_timeout=knobs.create_timeout_seconds,
            on_timing=metrics.api_answered,
        )
        opened.push_async_callback(api.close)
        downloads = aiohttp.ClientSession()
        opened.push_async_callback(downloads.close)
        return Services(store=store, api=api, downloads=downloads)

    async def start_steps(application: BotApp, steps: Steps) -> None:
        if steps.store.database.sole_instance:
            # A SQLite file has one process at a time: every lease on it is of one that died.
            await LeaseStore.of(steps.store).expire_all(now=clock())
        assert application.job_queue is not None
        # First of all, at once and then every third of LEASE_SECONDS: this instance's leases
        # are renewed, and what instances that died left behind is taken over.
        heartbeat = Heartbeat(application, steps, every=settings.lease_seconds / 3)
        application.bot_data[HEARTBEAT_KEY] = heartbeat  # post_shutdown stops it
        heartbeat.start()
        application.job_queue.run_once(take_over_at_start, when=0, name="take_over_at_start")
        # The tick runs several times per poll interval: each job's own schedule says when it is
        # due, and a due job then waits a fraction of an interval, not up to a whole one.
        application.job_queue.run_repeating(
            advance_due_jobs_tick,
            interval=tick_interval(settings.poll_interval_seconds),
            first=0,
            name="advance_due_jobs",
        )
        await steps.admission.log_access_mode()
        application.job_queue.run_repeating(
            send_admin_alerts_tick,
            interval=tick_interval(settings.poll_interval_seconds),
            first=0,
            name="send_admin_alerts",
        )
        application.job_queue.run_repeating(
            submit_waiting_jobs_tick,
            interval=tick_interval(settings.poll_interval_seconds),
            first=0,
            name="submit_waiting_jobs",
        )
        try:
            for scope, language_code, commands in command_menus(payments=settings.payments_on):
                await application.bot.set_my_commands(
                    commands, scope=scope, language_code=language_code
                )
        except Exception as error:  # the menu is a nicety: never a reason not to start
            log.warning("could not register the command menu: %s", error)
        rules = await steps.admission.load_rules()
        log.info(
            "bot @%s started as instance %s in %s; storage: %s; AI/ML API %s (%s endpoint); "
            "access: %s",
            application.bot.username,
            steps.leases.owner,
            f"webhook mode at {settings.telegram_webhook_url}"
            if settings.webhook_mode
            else "polling mode",
            steps.store.describe(),
            settings.aimlapi_base_url,
            settings.aimlapi_endpoint,
            "anyone may use it"
            if rules.open_to_everyone
            else f"{len(rules.allowed_users)} user(s) and {len(rules.allowed_chats)} group(s) "
            "allowed",
        )

    async def post_shutdown(application: BotApp) -> None:
        await stop_http_server(application)
        steps = application.bot_data.pop(STEPS_KEY, None)
        application.bot_data.pop(UPDATE_FEED_KEY, None)
        heartbeat = application.bot_data.pop(HEARTBEAT_KEY, None)
        if isinstance(heartbeat, Heartbeat):
            await heartbeat.stop()  # the work in hand is done: nothing left to renew
        if isinstance(steps, Steps):
            # What this instance still holds (a job taken from the line just before the stop,
            # say) goes on at once elsewhere, or at the next start, not after the expiry.
            try:
                released = await steps.leases.release_all()
            except Exception as error:  # they run out by themselves
                log.warning("could not release this instance's leases (%s)", error)
            else:
                if released:
                    log.info("released %d lease(s) at stop", released)
        services = application.bot_data.pop(SERVICES_KEY, None)
        if isinstance(services, Services):
            await services.close()

    builder = ApplicationBuilder()
    if settings.webhook_mode:
        builder = builder.updater(None)  # Telegram posts to the bot's own server instead
    application = (
        builder.token(settings.telegram_bot_token.get_secret_value())
        .base_url(settings.telegram_base_url)
        .base_file_url(settings.telegram_base_file_url)
        .defaults(Defaults(parse_mode=ParseMode.HTML))
        .rate_limiter(AIORateLimiter(max_retries=2))
        .concurrent_updates(True)
        .request(TimedRequest(metrics.telegram_answered, media_write_timeout=300))
        .post_init(post_init)
        .post_shutdown(post_shutdown)
        .build()
    )
    application.bot_data[METRICS_KEY] = metrics

    private, groups = filters.ChatType.PRIVATE, filters.ChatType.GROUPS
    # Before all else, the update's language: every handler's words are in it.
    application.add_handler(TypeHandler(Update, bind_update_language), group=-2)
    # Then the door: strangers in a group the bot is not allowed in get no answer, but /id
    # (first in the same group, so the door does not see it) answers everyone.
    application.add_handler(CommandHandler("id", on_id), group=-1)
    application.add_handler(MessageHandler(groups, keep_strangers_out), group=-1)
    application.add_handler(CommandHandler(["start", "help"], on_help))
    application.add_handler(CommandHandler("status", on_status))
    application.add_handler(CommandHandler("cancel", on_cancel))
    application.add_handler(CommandHandler("stats", on_stats))
    application.add_handler(CommandHandler("allow", on_allow))
    application.add_handler(CommandHandler("deny", on_deny))
    application.add_handler(CommandHandler("settings", on_settings))
    # Selling videos in Telegram Stars (handlers/payments.py); each says so while it is off.
    application.add_handler(CommandHandler("buy", on_buy))
    application.add_handler(CommandHandler("balance", on_balance))
    application.add_handler(CommandHandler("paysupport", on_paysupport))
    application.add_handler(CommandHandler("terms", on_terms))
    application.add_handler(CommandHandler("refund", on_refund))
    application.add_handler(PreCheckoutQueryHandler(on_pre_checkout))
    application.add_handler(MessageHandler(filters.SUCCESSFUL_PAYMENT, on_successful_payment))
    application.add_handler(CommandHandler("animate", on_animate_command, _NEW_MESSAGES))
    application.add_handler(MessageHandler(_NEW_MESSAGES & private & _IMAGES, on_private_image))
    application.add_handler(
        MessageHandler(_NEW_MESSAGES & groups & _IMAGES & _CAPTION_COMMAND, on_group_image)
    )
    application.add_handler(
        MessageHandler(_NEW_MESSAGES & private & filters.TEXT & ~filters.COMMAND, on_private_text)
    )
    # The buttons under the bot's messages (handlers/buttons.py, handlers/settings_menu.py).
    application.add_handler(CallbackQueryHandler(on_again, pattern=AGAIN_PATTERN))
    application.add_handler(CallbackQueryHandler(on_again, pattern=RETRY_PATTERN))
    application.add_handler(CallbackQueryHandler(on_cancel_button, pattern=CANCEL_PATTERN))
    application.add_handler(CallbackQueryHandler(on_fix, pattern=FIX_PATTERN))
    application.add_handler(CallbackQueryHandler(on_stop_paid, pattern=STOP_PAID_PATTERN))
    application.add_handler(CallbackQueryHandler(on_buy_button, pattern=BUY_PATTERN))
    application.add_handler(CallbackQueryHandler(on_optimizer_button, pattern=OPTIMIZER_PATTERN))
    application.add_handler(CallbackQueryHandler(on_unknown_button))
    application.add_error_handler(on_error)
    return application
