"""The union catalogue's own logic: clusters of records that describe one edition
(:mod:`.keys`, :mod:`.facts`, :mod:`.match`, :mod:`.clusters`) and who holds what
(:mod:`.holdings`). Pure: the store is reached only through the small index
interface of :mod:`.clusters`.
"""
