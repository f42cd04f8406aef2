"""Admission: whether a request may spend the operator's credits, and taking it, as one step.

The rules are `bot.policy.access`'s; the counts come from storage. Telegram types stay out: callers
pass plain ids, and get back the recorded job or the text to answer with.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.engine.chat_port import Keyboard
from bot.engine.keyboards import buy_markup
from bot.engine.leases import Leaseholder
from bot.engine.tuning import Clock
from bot.policy.access import (
    Access,
    AccessRules,
    Admit,
    BudgetVerdict,
    DailyCapReached,
    DailyLimitReached,
    Limits,
    NoCredit,
    TooManyActive,
    Usage,
    UsageReport,
    check_budget,
    day_start,
    seconds_to_reset,
)
from bot.policy.alerts import AdminAlerts, Alert
from bot.policy.payments import StarPack
from bot.wiring.settings import Settings
from bot.words.texts import English, texts_for
from storage import Job, JobState, JobStore, NewJob
from storage.counts import AccessStore, BotCounts, UserCounts

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Admission:
    """The outcome of `admit_request`."""

    job: Job | None  # the recorded job (RECEIVED, or WAITING in the line); None otherwise
    refused: bool  # the request may not go on
    reply: str | None = None  # what to tell the user, in their language; None: stay silent
    keyboard: Keyboard | None = None  # the buttons under `reply` (the packs on sale, say)
    leased: bool = True  # `job` is held by this instance's lease (else the tick goes on with it)


def limits_of(settings: Settings) -> Limits:
    return Limits(
        active_per_user=settings.max_active_jobs_per_user,
        daily_per_user=settings.daily_jobs_per_user,
        active_total=settings.max_active_jobs,
        daily_total=settings.daily_jobs_total,
    )


class Admissions:
    """Judges requests by the settings' rules and budgets (`settings`) and the /allow and /deny
    in `store`, and records those that may go on, each held by a lease of this instance's
    (`leases`): the judging and the recording are one transaction, in turn with every other
    instance's (`storage.counts.AccessStore.admit`). The day's cap reached is raised to
    `alerts`."""

    def __init__(
        self,
        store: JobStore,
        clock: Clock,
        settings: Settings,
        alerts: AdminAlerts,
        leases: Leaseholder,
    ) -> None:
        self._store, self._access, self._clock = store, AccessStore.of(store), clock
        self._settings, self._alerts, self._leases = settings, alerts, leases

    async def load_rules(self) -> AccessRules:
        """The settings' allowlists with the stored /allow and /deny on top."""
        overrides = await self._access.overrides()
        settings = self._settings
        return AccessRules.build(
            allowed_users=settings.allowed_user_ids,
            allowed_chats=settings.allowed_chat_ids,
            admins=settings.admin_user_ids,
            overrides={override.user_id: override.allowed for override in overrides},
        )

    async def admit_request(self, request: NewJob, *, private: bool) -> Admission:
        """Judge a request against access and budgets and, when it may go on, record it: to be
        submitted now (RECEIVED) or at the back of the line (WAITING, when the bot is at
        MAX_ACTIVE_JOBS or others already wait). Nothing is downloaded or charged here. The
        job comes back leased to this instance: the caller goes on with it, then releases it.

        A message that is already a job (Telegram redelivered it) is neither judged nor recorded
        again: `job` is None and `refused` False.
        """
        judge = await self._judge(
            request.user_id, request.chat_id, private=private, language=request.language
        )
        now = self._clock()
        admitted = await self._access.admit(
            request,
            now=now,
            since=day_start(now),
            lease=self._leases.lease(),
            decide=judge,
            free_videos=judge.free_videos,
        )
        if not admitted.new:
            return Admission(job=None, refused=False)
        if admitted.job is None:
            return await judge.refusal()
        self._leases.hold(admitted.job.id)  # recorded leased: the caller goes on with it
        if admitted.job.state is JobState.WAITING and judge.usage is not None:
            log.info(
                "job %s waits in line (%d in flight, %d waiting before it)",
                admitted.job.id,
                judge.usage.in_flight,
                judge.usage.waiting,
            )
        return Admission(job=admitted.job, refused=False)

    async def readmit_rejected(
        self, job_id: int, *, private: bool, image_fix: str, language: str | None
    ) -> Admission:
        """Judge a job whose image was refused again, as a new request (a refusal never counted
        against the budgets), and when it may go on, put it back into processing with the image
        fix the user chose: RECEIVED to be submitted now, or WAITING in the line. `language` is the
        Telegram language code of the user who chose the fix: the refusal's reply, and the job from
        now on, speak it. The job comes back leased to this instance (the caller goes on with it,
        then releases it), or, while another step still holds it, made due for the tick to go on
        with: `leased` False.

        A job no longer REJECTED (a second tap on a fix button) is left alone: `job` is None and
        `refused` False.
        """
        job = await self._store.get(job_id)
        if job.state is not JobState.REJECTED:
            return Admission(job=None, refused=False)
        judge = await self._judge(job.user_id, job.chat_id, private=private, language=language)
        now = self._clock()
        admitted = await self._access.readmit(
            job_id,
            now=now,
            since=day_start(now),
            lease=self._leases.lease(),
            decide=judge,
            free_videos=judge.free_videos,
            changes={
                "reason": None,
                "image_fix": image_fix,
                "language": language,
                "pending_status": None,
            },
        )
        if not admitted.new:
            return Admission(job=None, refused=False)
        if admitted.job is None:
            return await judge.refusal()
        log.info("job %s goes on with its image fixed (%s)", job_id, image_fix)
        # Leased to this instance; but a step here may still hold it (its lease ran out
        # meanwhile): that step goes on with it, and the job with the tick after.
        leased = admitted.leased and self._leases.hold(job_id)
        return Admission(job=admitted.job, refused=False, leased=leased)

    async def _judge(
        self, user_id: int, chat_id: int, *, private: bool, language: str | None
    ) -> _Judgement:
        """The judge of one more job of `user_id` in `chat_id`, on the rules as they are now;
        admission hands it the counts in its transaction."""
        rules = await self.load_rules()
        settings = self._settings
        # Admins never pay; and no one who may not make videos here is given free ones.
        allowed = rules.access(user_id=user_id, chat_id=chat_id, private=private)
        pays = settings.payments_on and not rules.is_admin(user_id) and allowed is Access.ALLOWED
        return _Judgement(
            rules,
            limits_of(settings),
            self._alerts,
            packs=settings.packs,
            free_videos=settings.free_videos_per_user if pays else None,
            user_id=user_id,
            chat_id=chat_id,
            private=private,
            words=texts_for(language),
            now=self._clock(),
        )

    async def usage_report(self, user_id: int, *, chat_id: int, private: bool) -> UsageReport:
        """The caller's budget today, for /status."""
        rules = await self.load_rules()
        now = self._clock()
        mine = await self._access.user_counts(user_id, since=day_start(now))
        settings = self._settings
        return UsageReport(
            user_id=user_id,
            allowed=rules.access(user_id=user_id, chat_id=chat_id, private=private)
            is Access.ALLOWED,
            admin=rules.is_admin(user_id),
            active=mine.active,
            active_limit=settings.max_active_jobs_per_user,
            today=mine.today,
            daily_limit=settings.daily_jobs_per_user,
            resets_in=seconds_to_reset(now),
        )

    async def set_user_access(self, user_id: int, *, allowed: bool, changed_by: int) -> AccessRules:
        """Store an /allow or /deny; returns the rules as they were before it."""
        before = await self.load_rules()
        await self._access.set_override(
            user_id, allowed=allowed, changed_by=changed_by, now=self._clock()
        )
        log.warning(
            "admin %s %s user %s at run time",
            changed_by,
            "allowed" if allowed else "denied",
            user_id,
        )
        return before

    async def log_access_mode(self) -> None:
        """Say at start-up who may spend the credits: one WARNING line when it is everyone."""
        rules = await self.load_rules()
        if rules.open_to_everyone:
            log.warning(
                "the bot is open to everyone: ALLOWED_USER_IDS and ALLOWED_CHAT_IDS are empty, so "
                "anyone who finds it can spend the API credits (%d denied with /deny)",
                len(rules.revoked),
            )
            return
        log.info(
            "access: %d user(s) and %d group(s) allowed by the settings, %d allowed and %d denied "
            "at run time, %d admin(s)",
            len(rules.allowed_users),
            len(rules.allowed_chats),
            len(rules.granted),
            len(rules.revoked),
            len(rules.admins),
        )


class _Judgement:
    """One request's judgement: access by `rules`, then the budgets (`limits`) on the counts the
    admission transaction reads (called with them there, it says the state to record the job
    in, or None to refuse); afterwards, the refusal to answer with, in `words`, the day's cap
    raised to `alerts`. `free_videos`: what a new user is given when the user pays for videos
    (None: they do not), `packs` what they may buy when they have no credit left."""

    def __init__(
        self,
        rules: AccessRules,
        limits: Limits,
        alerts: AdminAlerts,
        *,
        packs: list[StarPack],
        free_videos: int | None,
        user_id: int,
        chat_id: int,
        private: bool,
        words: English,
        now: float,
    ) -> None:
        self._rules, self._limits, self._alerts = rules, limits, alerts
        self._packs, self.free_videos = packs, free_videos
        self._words, self._now = words, now
        self._user_id, self._chat_id, self._private = user_id, chat_id, private
        self.access = rules.access(user_id=user_id, chat_id=chat_id, private=private)
        self.verdict: BudgetVerdict | None = None
        self.usage: Usage | None = None

    def __call__(self, mine: UserCounts, load: BotCounts) -> JobState | None:
        if self.access is not Access.ALLOWED:
            return None
        self.usage = Usage(
            user_active=mine.active,
            user_today=mine.today,
            in_flight=load.in_flight,
            waiting=load.waiting,
            bot_today=load.today,
            credits=mine.credits,
        )
        self.verdict = check_budget(
            self.usage,
            self._limits,
            admin=self._rules.is_admin(self._user_id),
            now=self._now,
        )
        if isinstance(self.verdict, Admit):
            return JobState.WAITING if self.verdict.wait else JobState.RECEIVED
        return None

    async def refusal(self) -> Admission:
        """The answer to a request this judgement refused (logged, and the day's cap raised to
        the admins)."""
        words, user_id, verdict = self._words, self._user_id, self.verdict
        if self.access is not Access.ALLOWED:
            log.info(
                "user %s in chat %s may not submit (%s)", user_id, self._chat_id, self.access.value
            )
            reply = words.not_allowed(user_id) if self.access is Access.REFUSED else None
            return Admission(job=None, refused=True, reply=reply)
        if isinstance(verdict, TooManyActive):
            log.info("user %s is at %d active jobs", user_id, verdict.active)
            return Admission(job=None, refused=True, reply=words.too_many_active(verdict))
        if isinstance(verdict, DailyLimitReached):
            log.info("user %s used %d jobs today", user_id, verdict.used)
            return Admission(job=None, refused=True, reply=words.daily_limit_reached(verdict))
        if isinstance(verdict, NoCredit):
            log.info("user %s has no video credit left", user_id)
            return Admission(
                job=None,
                refused=True,
                reply=words.no_credit_left(self._packs),
                keyboard=buy_markup(self._packs, words),
            )
        assert isinstance(verdict, DailyCapReached), verdict
        log.warning("the bot made its %d jobs today (DAILY_JOBS_TOTAL)", verdict.limit)
        await self._alerts.raise_alert(
            Alert.DAILY_CAP, texts_for(None).alert_daily_cap(verdict), now=self._now
        )
        return Admission(job=None, refused=True, reply=words.daily_cap_reached(verdict))
