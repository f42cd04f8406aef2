"""A local stand-in of the AI/ML API, to try the whole bot without spending credits.

``python -m bot.sandbox`` (or ``make sandbox``) runs it; see ``docs/sandbox.md``. Its pieces:
``contract`` (the API's rules and answers, shared with the test emulator), ``timeline`` (a
job's statuses on the clock), ``render`` (the Ken Burns MP4) and ``server`` (the endpoints).
"""
