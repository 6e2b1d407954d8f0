"""Every route in one place (pages, links and redirects use these names)."""

HOME = "/"
LOGIN = "/login"
SIGNUP = "/signup"
DASHBOARD = "/dashboard"
ACCOUNTS = "/accounts"
SEND = "/send"
HISTORY = "/history"
