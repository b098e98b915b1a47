from django.apps import AppConfig


class FollowupConfig(AppConfig):
    name = "followup"
    verbose_name = "结果运用 / After the meeting"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The events floor may not import followup: followup registers its
        # after-commit hook with the store (an event in sweeps.TRIGGERS gets
        # its county swept at once). Importing jobs registers its tasks with
        # the job queue (procrastinate's app is ready: it is installed first).
        from importlib import import_module

        from events import store
        from followup import jobs, sweeps

        store.subscribe(jobs.defer_after_commit)
        for module in sweeps.SWEEPER_MODULES:
            import_module(module)
