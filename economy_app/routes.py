"""Every route in one place (pages, links and redirects use these names)."""

HOME = "/"
LOGIN = "/login"
SIGNUP = "/signup"
DASHBOARD = "/dashboard"
ACCOUNTS = "/accounts"
SEND = "/send"
HISTORY = "/history"
COMPANIES = "/companies"
COMPANY = "/company"  # ?id=N: the owner's dashboard
COMPANY_PROFILE = "/company/profile"  # ?id=N: any company's public profile, for every player
DIRECTORY = "/directory"
MARKETPLACE = "/marketplace"
STOCKS = "/stocks"
STOCK = "/stock"  # ?id=N
PORTFOLIO = "/portfolio"
LEADERBOARD = "/leaderboard"
RUN = "/run"  # ?entry=N: what one marketplace run sold of each product, for the selling company's owner
ADMIN = "/admin"
ADMIN_ACCOUNT = "/admin/account"  # ?id=N: one account, its owner, their accounts and companies, freezing
