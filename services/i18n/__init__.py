"""What parties read, in their language: gettext catalogs and Babel's dates and numbers.

The catalogs are plain ``.po`` files (``locales/{en,fr_CA,zh_CN}/LC_MESSAGES/coldchain.po``)
read at run time (``catalogs``); ``Language`` (``language``) translates and formats with them.
``make i18n-extract`` refreshes them from the ``gettext``/``pgettext``/``N_`` markers in the code.
"""
