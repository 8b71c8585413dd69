"""Safe deletion of pjsua2 objects subclassed in Python (SWIG "directors").

pjmedia's threads call such objects back: a conference port's put_frame every 20 ms
(even with nothing connected to it), a player's end of file, a call's DTMF. When the
last reference to one goes, Python starts freeing it and only then does SWIG run the
C++ destructor, with the GIL released. Until that destructor has taken the object out
of pjsua, a thread waiting for the GIL gets it and calls back into the half-freed
Python object: it is revived and freed a second time, and the heap is corrupt (the
daemon crashed later in unrelated code: json, dataclasses.asdict, glibc's free()).

DeleteWhileAlive runs the C++ destructor from __del__, which Python calls while the
object is still whole (PEP 442): a call back during it finds a live object, and the
freeing that follows has no C++ part left to delete. Every pjsua2 subclass whose
callbacks come from pjmedia's threads derives from it, first in its bases.
"""
from __future__ import annotations


class DeleteWhileAlive:
    def __del__(self) -> None:
        this = self.__dict__.get("this")  # absent if __init__ failed before pjsua2's
        destroy = getattr(type(self), "__swig_destroy__", None)
        if this is not None and destroy is not None and this.own():
            destroy(self)  # disowns `this` first: the later free deletes nothing
