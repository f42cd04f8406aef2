"""A local stand-in of the AI/ML API, to try the whole bot without spending credits.

``python -m bot.sandbox`` (or ``make sandbox``) runs it; the README's *Try it without
credits* says how. Its pieces: ``contract`` (the API's rules and answers), ``standin`` (the
API's endpoints as one server, which the sandbox and the test suite's emulator each
configure), ``timeline`` (a job's statuses on the clock), ``render`` (the Ken Burns MP4),
``server`` (the sandbox's configuration of the endpoints) and ``serving`` (start, close and
serve on 127.0.0.1, for every local server of the project).
"""
