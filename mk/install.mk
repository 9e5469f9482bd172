# Installation, the release tarball, and their checks.
#   make install [PREFIX=/usr/local] [DESTDIR=]   make uninstall
#   make dist        build/busrt-$(VERSION).tar.gz from the tracked files
#   make install-check  (in make test) stage an install, build a program
#                       against it with pkg-config, run the installed busrtd

PREFIX  ?= /usr/local
DESTDIR ?=
BINDIR  := $(PREFIX)/bin
SBINDIR := $(PREFIX)/sbin
LIBDIR  := $(PREFIX)/lib
INCDIR  := $(PREFIX)/include
MANDIR  := $(PREFIX)/share/man
DOCDIR  := $(PREFIX)/share/doc/busrt
DATADIR := $(PREFIX)/share/busrt
SOVER   := $(VERSION)

INSTALL_BIN := $(B)/busrt $(B)/busrt-conformance $(B)/busrt-bench $(B)/busrt-netfuzz
MAN_PAGES   := man/busrtd.8 man/busrt.1 man/busrt-conformance.1 man/busrt-bench.1 man/libbusrt.3 \
               man/libbusrtd.3

TEST_SUITES += version-check man-check install-check
.PHONY: install uninstall dist install-check version-check man-check

$(B)/%.pc: mk/%.pc.in ref/include/busrt/codes.h
	@mkdir -p $(@D)
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(VERSION)|g' $< > $@

install: all $(B)/busrt.pc $(B)/busrtd.pc
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR) $(DESTDIR)$(LIBDIR)/pkgconfig \
	  $(DESTDIR)$(INCDIR)/busrt $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man3 \
	  $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(DOCDIR) $(DESTDIR)$(DATADIR)/vectors
	install -m 0755 $(B)/busrtd $(DESTDIR)$(SBINDIR)/busrtd
	install -m 0755 $(INSTALL_BIN) $(DESTDIR)$(BINDIR)/
	install -m 0644 ref/include/busrt/*.h $(DESTDIR)$(INCDIR)/busrt/
	install -m 0644 $(B)/obj/libbusrt.a $(DESTDIR)$(LIBDIR)/libbusrt.a
	install -m 0644 $(B)/obj/libbusrtd.a $(DESTDIR)$(LIBDIR)/libbusrtd.a
	install -m 0755 $(B)/obj/libbusrt.so.$(SOVER) $(DESTDIR)$(LIBDIR)/libbusrt.so.$(SOVER)
	ln -sf libbusrt.so.$(SOVER) $(DESTDIR)$(LIBDIR)/libbusrt.so.0
	ln -sf libbusrt.so.0 $(DESTDIR)$(LIBDIR)/libbusrt.so
	install -m 0644 $(B)/busrt.pc $(DESTDIR)$(LIBDIR)/pkgconfig/busrt.pc
	install -m 0644 $(B)/busrtd.pc $(DESTDIR)$(LIBDIR)/pkgconfig/busrtd.pc
	install -m 0644 man/*.1 $(DESTDIR)$(MANDIR)/man1/
	install -m 0644 man/*.3 $(DESTDIR)$(MANDIR)/man3/
	install -m 0644 man/*.8 $(DESTDIR)$(MANDIR)/man8/
	install -m 0644 spec/busrt-v1.md README.md CHANGELOG.md CITATION.cff $(DESTDIR)$(DOCDIR)/
	install -m 0644 spec/vectors/*.json spec/vectors/README.md $(DESTDIR)$(DATADIR)/vectors/
	install -m 0644 contrib/acl.example.json $(DESTDIR)$(DATADIR)/
	install -d $(DESTDIR)$(DATADIR)/systemd
	install -m 0644 contrib/systemd/* $(DESTDIR)$(DATADIR)/systemd/
	@echo "installed busrt $(VERSION) under $(DESTDIR)$(PREFIX)"

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/busrtd $(addprefix $(DESTDIR)$(BINDIR)/,$(notdir $(INSTALL_BIN)))
	rm -rf $(DESTDIR)$(INCDIR)/busrt $(DESTDIR)$(DOCDIR) $(DESTDIR)$(DATADIR)
	rm -f $(DESTDIR)$(LIBDIR)/libbusrt.a $(DESTDIR)$(LIBDIR)/libbusrt.so \
	  $(DESTDIR)$(LIBDIR)/libbusrt.so.0 $(DESTDIR)$(LIBDIR)/libbusrt.so.$(SOVER) \
	  $(DESTDIR)$(LIBDIR)/pkgconfig/busrt.pc $(DESTDIR)$(LIBDIR)/libbusrtd.a \
	  $(DESTDIR)$(LIBDIR)/pkgconfig/busrtd.pc
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/man1/,$(notdir $(filter %.1,$(MAN_PAGES)))) \
	  $(addprefix $(DESTDIR)$(MANDIR)/man3/,$(notdir $(filter %.3,$(MAN_PAGES)))) \
	  $(addprefix $(DESTDIR)$(MANDIR)/man8/,$(notdir $(filter %.8,$(MAN_PAGES))))

# The tarball holds exactly the tracked files, under busrt-VERSION/.
dist:
	@mkdir -p $(B)
	git archive --format=tar.gz --prefix=busrt-$(VERSION)/ -o $(B)/busrt-$(VERSION).tar.gz HEAD
	@echo "wrote $(B)/busrt-$(VERSION).tar.gz"

install-check: all
	sh scripts/install-check.sh $(B) $(VERSION)

version-check: all
	sh scripts/version-check.sh $(VERSION) $(B)

man-check: all
	sh scripts/man-check.sh $(B)
