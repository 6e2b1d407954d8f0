"""The Reflex app: pages and their routes. Nothing else lives here."""

import reflex as rx

from economy_app import routes
from economy_app.jobs.scheduler import scheduler_lifespan
from economy_app.pages.accounts import AccountsState, accounts_page
from economy_app.pages.admin import AdminState, admin_page
from economy_app.pages.admin_account import AdminAccountState, admin_account_page
from economy_app.pages.companies import CompaniesState, DirectoryState, companies_page, directory_page
from economy_app.pages.company import CompanyState, company_page
from economy_app.pages.company_profile import CompanyProfileState, company_profile_page
from economy_app.pages.dashboard import DashboardState, dashboard_page
from economy_app.pages.for_sale import ForSaleState, for_sale_page
from economy_app.pages.history import HistoryState, history_page
from economy_app.pages.home import HomeState, home_page
from economy_app.pages.leaderboard import LeaderboardState, leaderboard_page
from economy_app.pages.loans import LoansState, loans_page
from economy_app.pages.login import LoginState, login_page, signup_page
from economy_app.pages.marketplace import MarketplaceState, marketplace_page
from economy_app.pages.portfolio import PortfolioState, portfolio_page
from economy_app.pages.run import RunState, run_page
from economy_app.pages.send import SendState, send_page
from economy_app.pages.stocks import StocksState, StockState, stock_page, stocks_page
from economy_app.state import page_load
from economy_app.state.live import live_lifespan

page_load.install()  # a page's load runs in the navigation's own event (state/page_load.py)
app = rx.App()
app.register_lifespan_task(scheduler_lifespan)
app.register_lifespan_task(live_lifespan)
app.add_page(home_page, route=routes.HOME, title="economy", on_load=HomeState.load)
app.add_page(login_page, route=routes.LOGIN, title="Log in · economy", on_load=LoginState.check)
app.add_page(signup_page, route=routes.SIGNUP, title="Sign up · economy", on_load=LoginState.check)
app.add_page(dashboard_page, route=routes.DASHBOARD, title="Dashboard · economy", on_load=DashboardState.load)
app.add_page(accounts_page, route=routes.ACCOUNTS, title="Accounts · economy", on_load=AccountsState.load)
app.add_page(send_page, route=routes.SEND, title="Send money · economy", on_load=SendState.load)
app.add_page(history_page, route=routes.HISTORY, title="History · economy", on_load=HistoryState.load)
app.add_page(companies_page, route=routes.COMPANIES, title="My companies · economy", on_load=CompaniesState.load)
app.add_page(company_page, route=routes.COMPANY, title="Company · economy", on_load=CompanyState.load)
app.add_page(
    company_profile_page,
    route=routes.COMPANY_PROFILE,
    title="Company profile · economy",
    on_load=CompanyProfileState.load,
)
app.add_page(for_sale_page, route=routes.FOR_SALE, title="Companies for sale · economy", on_load=ForSaleState.load)
app.add_page(directory_page, route=routes.DIRECTORY, title="Directory · economy", on_load=DirectoryState.load)
app.add_page(marketplace_page, route=routes.MARKETPLACE, title="Marketplace · economy", on_load=MarketplaceState.load)
app.add_page(stocks_page, route=routes.STOCKS, title="Stock market · economy", on_load=StocksState.load)
app.add_page(stock_page, route=routes.STOCK, title="Stock · economy", on_load=StockState.load)
app.add_page(portfolio_page, route=routes.PORTFOLIO, title="Portfolio · economy", on_load=PortfolioState.load)
app.add_page(loans_page, route=routes.LOANS, title="Loans · economy", on_load=LoansState.load)
app.add_page(leaderboard_page, route=routes.LEADERBOARD, title="Leaderboard · economy", on_load=LeaderboardState.load)
app.add_page(run_page, route=routes.RUN, title="Marketplace run · economy", on_load=RunState.load)
app.add_page(admin_page, route=routes.ADMIN, title="Admin · economy", on_load=AdminState.load)
app.add_page(
    admin_account_page, route=routes.ADMIN_ACCOUNT, title="Account · Admin · economy", on_load=AdminAccountState.load
)
