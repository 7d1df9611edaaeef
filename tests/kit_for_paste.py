"""Targets for the generic PasteDeploy factory (``app = kit_for_paste:app``)."""

from webkit_app.examples.kit import make_kit

app = make_kit()
NOT_AN_APP = 3


def make_app(global_config, **settings):
    return make_kit()
