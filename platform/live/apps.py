from django.apps import AppConfig


class LiveConfig(AppConfig):
    name = "live"
    verbose_name = "现场 / live hall"

    def ready(self) -> None:
        from events import store
        from live import bus
        from meetings.actions import ballots

        store.subscribe(bus.on_committed)
        ballots.on_ballot_sealed(bus.turnout_on_commit)
