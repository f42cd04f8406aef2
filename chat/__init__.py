"""The chat adapter: the job engine's port (`bot.engine.chat_port`) over python-telegram-bot."""
