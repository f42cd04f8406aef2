"""The words a user reads: gettext catalogs in locales/, one message logic for every language."""
