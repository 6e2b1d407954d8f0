"""What the browser sends a counter-offer handler, parsed once for both pages (the owner's dashboard and
Companies for sale): a bad form gets the player's message, never an exception the page can't word."""

import pytest

from economy_app.event_args import counter_offer_form
from economy_app.money import AmountError


def test_a_counter_offer_form_is_an_offer_id_and_cents():
    assert counter_offer_form({"offer_id": "12", "price": "4,000"}) == (12, 400_000)
    assert counter_offer_form({"offer_id": "nonsense", "price": "1.50"}) == (0, 150)  # the service refuses id 0
    assert counter_offer_form({"price": "10"}) == (0, 1_000)  # a field left out reads as empty, as a browser's would


@pytest.mark.parametrize(
    "form, message",
    [
        ("not a form", "Fill in the form."),
        ({"offer_id": "3"}, "Counter-offer: "),
        ({"offer_id": "3", "price": ["10"]}, "Fill in the form."),
        ({"offer_id": "3", "price": "ten"}, "Counter-offer: "),
        ({"offer_id": "3", "price": "-5"}, "Counter-offer: "),
    ],
)
def test_a_bad_counter_offer_form_says_what_is_wrong(form, message):
    with pytest.raises(AmountError) as e:
        counter_offer_form(form)
    assert str(e.value).startswith(message)
