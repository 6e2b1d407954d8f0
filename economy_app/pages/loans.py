"""Loans: borrow from the bank (the terms shown before confirming), repay any part, see past loans.

Each form carries its own idempotency key, embedded in the click (as sending money does): a double click, or
the same event from several tabs, takes one loan and repays once. The rules are the service's
(``services/loans.py``); this page shows them and parses what is typed.
"""

from __future__ import annotations

import uuid

import reflex as rx

from economy_app import routes
from economy_app.components.forms import field_label
from economy_app.components.layout import player_page
from economy_app.components.money import money
from economy_app.display import (
    LoanItem,
    at_text,
    loan_item,
    loan_quote_text,
    loan_terms_text,
    next_interest_text,
)
from economy_app.event_args import check_amount_text, text_arg
from economy_app.money import format_cents, format_dollars_input
from economy_app.services import live as topics
from economy_app.services import loans
from economy_app.services.errors import EconomyError
from economy_app.state.auth import AuthState, logged_in, private, refresh_on_push, run


@private
class LoansState(AuthState):
    loaded: bool = False
    has_loan: bool = False
    debt: str = ""
    debt_cents: int = 0
    principal: str = ""
    interest: str = ""
    repaid: str = ""
    next_interest: str = ""
    due: str = ""
    owed_at_due: str = ""
    barred: str = ""  # after a default: when borrowing is allowed again
    can_borrow: str = ""
    can_borrow_cents: int = 0
    min_loan_cents: int = 0
    interest_bps: int = 0
    term_days: int = 0
    terms: str = ""
    personal: str = ""
    personal_cents: int = 0
    past: list[LoanItem] = []
    account_id: int = 0  # the open loan's account (its ledger)
    borrow_text: str = ""
    borrow_error: str = ""
    borrow_key: str = ""
    repay_text: str = ""
    repay_error: str = ""
    repay_key: str = ""
    last_key: str = ""
    busy: bool = False

    def _borrow_cents(self) -> tuple[int | None, str]:
        cents, error = check_amount_text(
            self.borrow_text, balance=None, maximum=self.can_borrow_cents, most="You can borrow at most {}."
        )
        if cents is not None and cents < self.min_loan_cents:
            return None, f"Borrow at least {format_cents(self.min_loan_cents)}."
        return cents, error

    def _repay_cents(self) -> tuple[int | None, str]:
        cents, error = check_amount_text(
            self.repay_text, balance=None, maximum=self.debt_cents, most="You owe {}: repay at most that."
        )
        if cents is not None and cents > self.personal_cents:
            return None, f"Your personal account holds {self.personal}: repay at most that."
        return cents, error

    @rx.var
    def borrow_preview(self) -> str:
        cents, _ = self._borrow_cents()
        return loan_quote_text(loans.quote(cents)) if cents is not None and self.can_borrow_cents else ""

    @rx.var
    def repay_preview(self) -> str:
        cents, _ = self._repay_cents()
        if cents is None:
            return ""
        left = self.debt_cents - cents
        return f"You repay {format_cents(cents)} from your personal account; " + (
            "the loan is then closed." if left == 0 else f"you will still owe {format_cents(left)}."
        )

    async def _show(self, user):
        c = await run(loans.credit, user.id)
        loan = c.loan
        self.has_loan = loan is not None
        self.account_id = loan.account_id if loan else 0
        self.debt_cents = loan.debt if loan else 0
        self.debt = format_cents(self.debt_cents)
        self.principal = format_cents(loan.principal) if loan else ""
        self.interest = format_cents(loan.interest) if loan else ""
        self.repaid = format_cents(loan.repaid) if loan else ""
        self.next_interest = next_interest_text(loan)
        self.due = at_text(loan.due_at) if loan else ""
        self.owed_at_due = format_cents(loan.owed_at_due) if loan else ""
        self.barred = at_text(c.barred_until)
        self.can_borrow_cents, self.can_borrow = c.can_borrow, format_cents(c.can_borrow)
        self.min_loan_cents, self.interest_bps, self.term_days = c.min_loan, c.interest_bps, c.term_days
        self.terms = loan_terms_text(c.interest_bps, c.term_days)
        self.personal_cents, self.personal = c.personal_balance, format_cents(c.personal_balance)
        self.past = [loan_item(v) for v in c.past]
        if not self.borrow_key:
            self.borrow_key = uuid.uuid4().hex
        if not self.repay_key:
            self.repay_key = uuid.uuid4().hex
        self.loaded = True
        self._listen(user, *((topics.account(loan.account_id),) if loan else ()))

    @rx.event
    @logged_in
    async def load(self, user):
        await self._show(user)

    @rx.event
    @refresh_on_push
    async def live_refresh(self, user):
        """Interest charged, the loan settled, money in or out: fresh figures, the forms kept as typed."""
        await self._show(user)

    @rx.event
    def set_borrow_amount(self, text: str):
        self.borrow_text = text_arg(text, 32)
        self.borrow_error = self._borrow_cents()[1] if self.borrow_text.strip() else ""

    @rx.event
    def set_repay_amount(self, text: str):
        self.repay_text = text_arg(text, 32)
        self.repay_error = self._repay_cents()[1] if self.repay_text.strip() else ""

    @rx.event
    def repay_all(self):
        """Fill in what is owed (or what the personal account holds, when that is less)."""
        self.repay_text = format_dollars_input(min(self.debt_cents, self.personal_cents))
        self.repay_error = self._repay_cents()[1]

    def _fresh(self, key: str) -> bool:
        """A click's key is used once: a second click, or the same event replayed, does nothing here (and the
        service answers a replay that gets through like the first)."""
        return not self.busy and isinstance(key, str) and 0 < len(key) <= 64 and key != self.last_key

    @rx.event
    @logged_in
    async def borrow(self, user, key: str):
        if not self._fresh(key):
            return
        cents, error = self._borrow_cents()
        if cents is None:
            self.borrow_error = error
            yield rx.toast.error(error)
            return
        self.busy = True
        yield
        try:
            loan = await run(loans.take, user_id=user.id, amount=cents, idempotency_key=f"loan:{user.id}:{key}")
        except EconomyError as e:
            self.busy = False
            await self._show(user)
            yield rx.toast.error(str(e))
            return
        self.last_key, self.borrow_key = key, uuid.uuid4().hex
        self.borrow_text = self.borrow_error = ""
        await self._show(user)
        self.busy = False
        yield rx.toast.success(f"You borrowed {format_cents(loan.principal)}. It is due {at_text(loan.due_at)}.")

    @rx.event
    @logged_in
    async def repay(self, user, key: str):
        if not self._fresh(key):
            return
        cents, error = self._repay_cents()
        if cents is None:
            self.repay_error = error
            yield rx.toast.error(error)
            return
        self.busy = True
        yield
        try:
            loan = await run(loans.repay, user_id=user.id, amount=cents, idempotency_key=f"repay:{user.id}:{key}")
        except EconomyError as e:
            self.busy = False
            await self._show(user)
            yield rx.toast.error(str(e))
            return
        self.last_key, self.repay_key = key, uuid.uuid4().hex
        self.repay_text = self.repay_error = ""
        await self._show(user)
        self.busy = False
        if loan.open:
            yield rx.toast.success(f"Repaid {format_cents(cents)}. You owe {format_cents(loan.debt)}.")
        else:
            yield rx.toast.success(f"Repaid {format_cents(cents)}. Your loan is closed.")


def _figure(label: str, value, test_id: str, hint) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.text(label, size="2", color_scheme="gray", weight="medium"),
            rx.heading(value, size="6", id=test_id),
            rx.text(hint, size="1", color_scheme="gray"),
            spacing="1",
        ),
        width="100%",
    )


def _amount_field(label: str, control_id: str, value, on_change, error) -> rx.Component:
    return rx.vstack(
        field_label(label, control_id),
        rx.input(
            placeholder="0.00",
            value=value,
            on_change=on_change,
            size="3",
            width="100%",
            id=control_id,
            input_mode="decimal",
            auto_complete="off",
            color_scheme=rx.cond(error != "", "red", "gray"),
        ),
        rx.cond(error != "", rx.text(error, color_scheme="red", size="2")),
        spacing="1",
        width="100%",
    )


def _open_loan() -> rx.Component:
    s = LoansState
    return rx.vstack(
        rx.grid(
            _figure("You owe", money(s.debt, -s.debt_cents), "loan-debt", "principal " + s.principal),
            _figure(
                "Next interest",
                rx.cond(s.next_interest != "", s.next_interest, "none: the due date comes first"),
                "loan-next-interest",
                "interest so far " + s.interest,
            ),
            _figure("Due", s.due, "loan-due", "if nothing more is repaid you will owe " + s.owed_at_due),
            columns=rx.breakpoints(initial="1", sm="3"),
            spacing="3",
            width="100%",
        ),
        rx.callout(
            "Unpaid on the due date, the loan is settled from what you own: your personal cash, your private "
            "companies' cash and your shares, sold back to their companies (your own public company's stake after "
            "its other shareholders'); what is left is written off, and you can't borrow again for a while. Until it is repaid you can't send money to other players, buy from their companies, buy shares, "
            "or put money into a public company (even your own).",
            icon="triangle-alert",
            color_scheme="amber",
            width="100%",
        ),
        rx.card(
            rx.vstack(
                rx.heading("Repay", size="4"),
                rx.text("From your personal account (", s.personal, ").", size="2", color_scheme="gray"),
                _amount_field("Repay amount", "repay-amount", s.repay_text, s.set_repay_amount, s.repay_error),
                rx.button("Repay all", variant="soft", size="1", on_click=s.repay_all),
                rx.cond(s.repay_preview != "", rx.callout(s.repay_preview, icon="info", width="100%")),
                rx.button(
                    "Confirm repayment",
                    size="3",
                    width="100%",
                    disabled=(s.repay_preview == "") | s.busy,
                    loading=s.busy,
                    on_click=s.repay(s.repay_key),
                ),
                rx.link("This loan's ledger", href=routes.HISTORY + "?account=" + s.account_id.to_string(), size="2"),
                spacing="3",
                width="100%",
            ),
            width="100%",
            max_width="36em",
        ),
        spacing="4",
        width="100%",
    )


def _borrow() -> rx.Component:
    s = LoansState
    return rx.cond(
        s.barred != "",
        rx.callout(
            "You defaulted on a loan: you can borrow again from " + s.barred + ".",
            icon="ban",
            color_scheme="red",
            width="100%",
            id="loan-barred",
        ),
        rx.card(
            rx.vstack(
                rx.heading("Take a loan", size="4"),
                rx.text("Up to ", s.can_borrow, ". ", s.terms, size="2", color_scheme="gray"),
                _amount_field("Loan amount", "loan-amount", s.borrow_text, s.set_borrow_amount, s.borrow_error),
                rx.cond(
                    s.borrow_preview != "",
                    rx.callout(s.borrow_preview, icon="info", width="100%", id="loan-preview"),
                ),
                rx.button(
                    "Take the loan",
                    size="3",
                    width="100%",
                    disabled=(s.borrow_preview == "") | s.busy,
                    loading=s.busy,
                    on_click=s.borrow(s.borrow_key),
                ),
                spacing="3",
                width="100%",
            ),
            width="100%",
            max_width="36em",
        ),
    )


def _past() -> rx.Component:
    head = ["Taken", "Borrowed", "Interest", "Repaid", "Collected", "Written off", "Closed", "Status"]
    return rx.cond(
        LoansState.past.length() > 0,
        rx.vstack(
            rx.heading("Past loans", size="4"),
            rx.box(
                rx.table.root(
                    rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in head])),
                    rx.table.body(
                        rx.foreach(
                            LoansState.past,
                            lambda r: rx.table.row(
                                *[
                                    rx.table.cell(v)
                                    for v in (
                                        r.taken,
                                        r.principal,
                                        r.interest,
                                        r.repaid,
                                        r.collected,
                                        r.written_off,
                                        r.closed,
                                        r.status,
                                    )
                                ],
                                class_name="loan-row",
                            ),
                        )
                    ),
                    width="100%",
                    variant="surface",
                ),
                overflow_x="auto",
                width="100%",
            ),
            spacing="2",
            width="100%",
        ),
    )


def loans_page() -> rx.Component:
    return player_page(
        rx.cond(
            LoansState.loaded,
            rx.vstack(
                rx.cond(LoansState.has_loan, _open_loan(), _borrow()),
                _past(),
                spacing="5",
                width="100%",
            ),
            rx.center(rx.spinner(size="3"), padding="4em"),
        ),
        title="Loans",
    )
