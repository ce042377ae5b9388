"""Pure configuration layer: parsing mm2.properties and resolving it the way MirrorMaker 2 does.

Nothing in this package performs I/O; callers read files and hand text in.
"""
