"""The hostile static corpus of the plugin policy: one sample per class of issue 12, and variants.

Each entry is ``name: (source, code)``: a module of a plugin package ``nentang_<plugin>`` that the
policy must refuse with ``code``. ``VARIANTS`` are written differently from the corpus (another
alias, another module of the same kind, a chained attribute, another dunder) and must be caught
all the same. ``CLEAN`` is code that looks like a finding by name only and must pass.
"""

from __future__ import annotations

from typing import Final

CORPUS: Final[dict[str, tuple[str, str]]] = {
    "table_by_name": (
        "from sqlalchemy import column, select, table\n"
        "users = table('kernel_user', column('password_hash'))\n"
        "def read(session):\n    return session.execute(select(users)).all()\n",
        "static.sql_table_by_name",
    ),
    "hand_built_table": (
        "import sqlalchemy as sa\nsecrets = sa.Table('kernel_plugin_secret', sa.MetaData(), sa.Column('value'))\n",
        "static.sql_table_by_name",
    ),
    "reflection": (
        "from sqlalchemy import inspect\ndef tables(session):\n    return inspect(session).get_table_names()\n",
        "static.sql_reflection",
    ),
    "set_config": (
        "from sqlalchemy import func, select\n"
        "def widen(session):\n    session.execute(select(func.set_config('nentang.tenant_id', '2', False)))\n",
        "static.sql_function",
    ),
    "private_context": ("def grants(ctx):\n    return ctx._authz\n", "static.private_attribute"),
    "resolve_name": (
        "import pkgutil\nKernel = pkgutil.resolve_name('nentang.kernel.runtime:Kernel')\n",
        "static.name_from_string",
    ),
    "pydoc_locate": (
        "from pydoc import locate\nKernel = locate('nentang.kernel.runtime.Kernel')\n",
        "static.name_from_string",
    ),
    "print_self": ("builtins_module = print.__self__\n", "static.bound_method_owner"),
    "traceback_frames": (
        "def caller_globals():\n    try:\n        raise ValueError\n    except ValueError as e:\n"
        "        return e.__traceback__.tb_frame.f_back.f_globals\n",
        "static.frame_access",
    ),
    "proc_environ": (
        "import pathlib\nENV = pathlib.Path('/proc/self/environ').read_text()\n",
        "static.file_access",
    ),
    "open_database": ("def dump():\n    return open('var/nentang.db', 'rb').read()\n", "static.file_access"),
    "thread": ("import threading\nthreading.Thread(target=print).start()\n", "static.thread"),
    "open_connection": (
        "import asyncio\nasync def call():\n    return await asyncio.open_connection('198.51.100.7', 443)\n",
        "static.network",
    ),
    "computed_getattr": ("def peek(ctx, name):\n    return getattr(ctx, name)\n", "static.computed_attribute"),
    "raw_sql": (
        "from sqlalchemy import text\ndef rows(s):\n    return s.execute(text('SELECT 1')).all()\n",
        "static.raw_sql",
    ),
    "raw_connection": ("def cur(session):\n    return session.get_bind().raw_connection()\n", "static.raw_connection"),
    "kernel_import": ("from nentang.kernel.runtime import Kernel\n", "static.kernel_import"),
    "env": ("import os\nURL = os.environ['NENTANG_DATABASE_URL']\n", "static.env_read"),
    "eval": ("x = eval('1 + 1')\n", "static.dynamic_code"),
    "subclasses": ("every = ().__class__.__base__.__subclasses__()\n", "static.dunder_access"),
    "other_plugin": ("from nentang_feedback import api\n", "static.plugin_import"),
    "not_listed": ("import xml.etree.ElementTree as ET\n", "static.import_not_allowed"),
    "process": ("import subprocess\nsubprocess.run(['id'])\n", "static.process"),
}

VARIANTS: Final[dict[str, tuple[str, str]]] = {
    "table_alias": ("from sqlalchemy import table as t\nq = t('kernel_user')\n", "static.sql_table_by_name"),
    "table_sqlmodel": ("import sqlmodel\nq = sqlmodel.column('password_hash')\n", "static.sql_table_by_name"),
    "table_metadata": (
        "from nentang.sdk import TenantOwned\nusers = TenantOwned.metadata.tables['kernel_user']\n",
        "static.sql_table_by_name",
    ),
    "literal_column": ("import sqlalchemy as sa\nc = sa.literal_column('password_hash')\n", "static.raw_sql"),
    "autoload": (
        "import sqlalchemy as sa\ndef t(conn, md):\n    return sa.Table('x', md, autoload_with=conn)\n",
        "static.sql_reflection",
    ),
    "reflect_method": ("def t(md, session):\n    md.reflect(session.connection())\n", "static.sql_reflection"),
    "func_alias": (
        "from sqlmodel import func as f\ndef tenant(s):\n    return s.scalar(f.current_setting('nentang.tenant_id'))\n",
        "static.sql_function",
    ),
    "func_getattr": ("from sqlalchemy import func\nread = getattr(func, 'pg_read_file')\n", "static.sql_function"),
    "func_value": ("from sqlalchemy import func\nf = func\n", "static.sql_function"),
    "private_chained": ("def scope(ctx):\n    return ctx.session._nentang_scope\n", "static.private_attribute"),
    "private_format": ("def leak(ctx):\n    return '{0._db}'.format(ctx)\n", "static.private_attribute"),
    "private_sdk": ("from nentang.sdk import _markers\n", "static.import_not_allowed"),
    "attrgetter": ("import operator\nget = operator.attrgetter('_authz.cache')\n", "static.computed_attribute"),
    "importlib_alias": ("import importlib as il\nk = il.import_module('nentang.kernel')\n", "static.name_from_string"),
    "resolve_name_from": (
        "from pkgutil import resolve_name as r\nk = r('nentang.kernel:runtime')\n",
        "static.name_from_string",
    ),
    "dunder_import": ("os = __import__('o' + 's')\n", "static.name_from_string"),
    "len_self": ("b = len.__self__\n", "static.bound_method_owner"),
    "method_func": ("def f(ctx):\n    return ctx.emit.__func__\n", "static.bound_method_owner"),
    "generator_frame": (
        "def g():\n    yield\ndef up():\n    return g().gi_frame.f_back\n",
        "static.frame_access",
    ),
    "traceback_module": ("import traceback\nframes = traceback.walk_stack(None)\n", "static.frame_access"),
    "globals_of_function": ("def f():\n    return f.__globals__\n", "static.dunder_access"),
    "dict_of_context": ("def f(ctx):\n    return ctx.__dict__\n", "static.dunder_access"),
    "path_alias": ("from pathlib import Path as P\nsecret = P('/etc/shadow').read_text()\n", "static.file_access"),
    "os_listdir": ("import os as o\nfiles = o.listdir('/')\n", "static.file_access"),
    "os_path": ("from os import path\nhere = path.dirname('/')\n", "static.file_access"),
    "io_open": ("import io\nf = io.open('var/nentang.db')\n", "static.file_access"),
    "open_value": ("reader = open\n", "static.file_access"),
    "shutil": ("import shutil\n", "static.file_access"),
    "module_file": ("here = __file__\n", "static.dunder_access"),
    "thread_alias": ("from threading import Thread as T\nT(target=print).start()\n", "static.thread"),
    "low_thread": ("import _thread\n_thread.start_new_thread(print, ())\n", "static.thread"),
    "executor": ("from concurrent.futures import ThreadPoolExecutor\n", "static.thread"),
    "to_thread": ("import asyncio\nasync def f():\n    await asyncio.to_thread(print)\n", "static.thread"),
    "loop_connection": (
        "async def f(loop):\n    await loop.create_connection(object, '198.51.100.7', 443)\n",
        "static.network",
    ),
    "open_connection_alias": ("from asyncio import open_connection as oc\n", "static.network"),
    "socket_alias": ("import socket as s\n", "static.network"),
    "http_client": ("import http.client\n", "static.network"),
    "setattr_computed": ("def f(ctx, x):\n    setattr(ctx, '_' + 'authz', x)\n", "static.computed_attribute"),
    "getattr_private": ("def f(ctx):\n    return getattr(ctx, '_authz')\n", "static.computed_attribute"),
    "vars_of": ("def f(ctx):\n    return vars(ctx)\n", "static.computed_attribute"),
    "getattr_value": ("g = getattr\n", "static.computed_attribute"),
    "kernel_from": ("from nentang import kernel\n", "static.kernel_import"),
    "kernel_alias": ("import nentang.kernel.runtime as rt\n", "static.kernel_import"),
    "getenv": ("from os import getenv\nkey = getenv('NENTANG_SECRET_KEY')\n", "static.env_read"),
    "exec": ("exec('x = 1')\n", "static.dynamic_code"),
    "pickle": ("import pickle\n", "static.dynamic_code"),
    "rebound_module": ("import os\nos = os\nos.system('id')\n", "static.file_access"),
    "driver_connection": (
        "def f(s):\n    return s.connection().connection.driver_connection\n",
        "static.raw_connection",
    ),
    "create_engine": ("from sqlmodel import create_engine\n", "static.raw_connection"),
    "sqlite": ("import sqlite3\n", "static.raw_connection"),
    "unbound_method": (
        "class Peek:\n    _authz = None\n\n    def get(self):\n        return self._authz\n"
        "def f(ctx):\n    return Peek.get(ctx)\n",
        "static.unbound_method",
    ),
    "type_method": (
        "class Peek:\n    def get(self):\n        return self._db\ndef f(ctx, p):\n    return type(p).get(ctx)\n",
        "static.unbound_method",
    ),
    "laundered_module": (
        "from nentang_plugin import helpers\ndef f(ctx):\n    helpers.CTX = ctx\n    return helpers.CTX._authz\n",
        "static.private_attribute",
    ),
    "static_self": (
        "class P:\n    @staticmethod\n    def f(self):\n        return self._authz\n",
        "static.private_attribute",
    ),
    "annotation_code": (
        "from __future__ import annotations\nimport strawberry\n@strawberry.type\nclass T:\n"
        "    x: \"__import__('subprocess').run(['id'])\"\n",
        "static.name_from_string",
    ),
    "string_expression": ("PATH = \"open('/proc/self/environ').read()\"\n", "static.file_access"),
    "pydantic_alias": (
        "from pydantic import BaseModel, Field\nclass Peek(BaseModel):\n"
        "    authz: object = Field(validation_alias='_authz')\n",
        "static.private_attribute",
    ),
    "formatter": (
        "import string\nfield = string.Formatter().get_field('0._db', [None], {})\n",
        "static.computed_attribute",
    ),
    "type_hints": ("import typing\nhints = typing.get_type_hints(print)\n", "static.dynamic_code"),
    "strawberry_lazy": (
        "import strawberry\nK = strawberry.lazy('nentang.kernel.runtime')\n",
        "static.name_from_string",
    ),
    "uuid1": ("from uuid import uuid1\n", "static.process"),
    "own_session": (
        "from sqlalchemy.orm import Session\ndef f(ctx):\n    return Session(ctx.session.connection())\n",
        "static.raw_connection",
    ),
    "core_on_connection": ("def f(ctx, q):\n    return ctx.session.connection().execute(q)\n", "static.raw_connection"),
    "relationship_by_name": (
        "from sqlmodel import Relationship\nclass Mine:\n    user: object = Relationship(sa_relationship_kwargs="
        "{'primaryjoin': 'KernelUser.id == Mine.user_id'})\n",
        "static.sql_table_by_name",
    ),
    "kernel_tablename": (
        "from nentang.sdk import TenantOwned\n"
        "class Users(TenantOwned, table=True):\n    __tablename__ = 'kernel_user'\n",
        "static.sql_table_by_name",
    ),
    "registry": ("from sqlalchemy.orm import registry\nmapper = registry()\n", "static.sql_table_by_name"),
    "star_import": ("from sqlalchemy import *\nusers = table('kernel_user')\n", "static.import_not_allowed"),
    "super_with_object": (
        "class Peek:\n    def get(self, ctx):\n        return super(Peek, ctx)._authz\n",
        "static.private_attribute",
    ),
    "inherited_private": (
        "from nentang.sdk import TenantOwned\nclass Mine(TenantOwned, table=True):\n    __tablename__ = 'plugin_mine'\n"
        "    def state(self):\n        return self._sa_instance_state.session\n",
        "static.private_attribute",
    ),
    "match_pattern": (
        "def f(ctx):\n    match ctx:\n        case object(_authz=grants):\n            return grants\n",
        "static.private_attribute",
    ),
    "format_attribute": ("def f(ctx):\n    return '{0.session.bind.url}'.format(ctx)\n", "static.computed_attribute"),
    "monkeypatch": (
        "from sqlalchemy.orm import Session\nSession.execute = lambda self, *a, **k: None\n",
        "static.monkeypatch",
    ),
    "monkeypatch_setattr": ("import json\nsetattr(json, 'dumps', repr)\n", "static.monkeypatch"),
    "exit_worker": ("def f():\n    raise SystemExit(0)\n", "static.process"),
    "tz_file": ("from zoneinfo import ZoneInfo\nz = ZoneInfo.from_file\n", "static.file_access"),
    "self_chain": ("class P:\n    def f(self):\n        return self.ctx._authz\n", "static.private_attribute"),
}

#: Looks like a finding by its names, is the plugin's own: no finding.
CLEAN: Final = '''
"""A docstring that mentions SELECT x FROM y, open() and ctx._authz is prose, not code."""
from __future__ import annotations

import importlib.metadata
from dataclasses import dataclass
from http import HTTPStatus
from urllib.parse import quote

from sqlmodel import col, func, select

from nentang.sdk import hookimpl
from nentang_plugin import helpers
from nentang_plugin.helpers import _helper


def open(path):  # the plugin's own open
    return path


def cursor(rows):
    return rows[-1]


class Board:
    __tablename__ = "plugin_board"

    def __init__(self, table):
        super().__init__()
        self.table = table
        self._cache = {}

    def execute(self):
        return self._cache, self.table, type(self).__name__, self.cursor()

    def cursor(self):
        return self._cache

    @classmethod
    def make(cls):
        return cls(None)


class Wide(Board):
    def __init__(self):
        Board.__init__(self, "wide")


@dataclass
class Page:
    cursor: int


@hookimpl
def nentang_plugin_enable(ctx, settings):
    count = ctx.session.scalar(select(func.count()).select_from(Board))
    biggest = select(func.max(col(Board.table)))
    page = Page(cursor=count)
    board = Board.make()
    board.execute()
    return (
        open("x"), cursor([page.cursor]), helpers._private(), _helper(), biggest, quote("a b"), HTTPStatus.OK,
        importlib.metadata.version("nentang-sdk"), getattr(ctx, "tenant"), __name__,
    )
'''
