"""The operator's policy: who may use the bot, the budgets, the stats and the admins' alerts."""
