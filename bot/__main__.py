"""`python -m bot`: run the bot from the environment and `.env` (see `bot.wiring.launch`)."""

import sys

from bot.wiring.launch import main

if __name__ == "__main__":
    sys.exit(main())
