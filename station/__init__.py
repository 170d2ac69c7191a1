"""The station program: the application shell on top of the kernel (`loa`) and the domain packages.

`station.cli` is the `loa` command, `station.demo` the demo commune, `station.handlers` the job-handler registry,
`station.ops` operations (backup, restore, metrics, broker files, the settings table). See docs/architecture.md."""
