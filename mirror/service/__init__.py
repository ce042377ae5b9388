"""Services behind ``mirror serve``: the runtime that reconciles towards the store, the scheduler,
and the catalog of connector plugins shared by the API and the runtime."""
