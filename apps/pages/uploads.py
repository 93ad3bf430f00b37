"""Uploads of data files and policy checkpoints, validated by ``workbench.services.uploads`` like the CLI's."""
from __future__ import annotations

import html
from typing import Callable

import panel as pn
import param

from apps.pages.common import alert, note
from workbench.services import uploads
from workbench.services.app import WorkbenchError


class UploadPanel(pn.viewable.Viewer):
    """Two small forms: a data file becomes a dataset, a checkpoint ``.zip`` becomes a policy.

    Args:
        on_change: Called after a successful upload (so forms can offer the new dataset or policy).
    """

    dataset_name = param.String(default="", label="Dataset name")
    symbol = param.String(default="", label="Symbol (files without a symbol column)")
    timezone = param.String(default="", label="Time zone of naive intraday times (e.g. America/New_York)")
    adjusted = param.Boolean(default=False, label="Scale prices by Adj Close / Close (like --adjusted)")
    policy_name = param.String(default="", label="Policy name")
    message = param.String(default="", precedence=-1)
    message_kind = param.String(default="info", precedence=-1)

    def __init__(self, on_change: Callable[[], None] | None = None, **params) -> None:
        super().__init__(**params)
        self._on_change = on_change
        self.data_file = pn.widgets.FileInput(accept=",".join(uploads.DATA_SUFFIXES), multiple=False)
        self.policy_file = pn.widgets.FileInput(accept=".zip", multiple=False)

    def upload_data(self, filename: str | None, content: bytes | None) -> bool:
        """Validate and store an uploaded data file; the outcome goes to ``message``."""
        try:
            result = uploads.import_data_upload(filename or "", content or b"", self.dataset_name,
                                                self.symbol or None, self.timezone or None, self.adjusted)
        except WorkbenchError as error:
            self.param.update(message=str(error), message_kind="danger")
            return False
        self.param.update(message=(f"Stored dataset {result['name']}: {len(result['symbols'])} symbol(s), "
                                   f"{result['bars']} bars, {result['start'][:10]} to {result['end'][:10]}, "
                                   f"{result['warnings']} warning(s)."), message_kind="success")
        if self._on_change:
            self._on_change()
        return True

    def upload_policy(self, filename: str | None, content: bytes | None) -> bool:
        """Verify and install an uploaded checkpoint archive; the outcome goes to ``message``."""
        try:
            folder = uploads.install_policy_upload(filename or "", content or b"", self.policy_name)
        except WorkbenchError as error:
            self.param.update(message=str(error), message_kind="danger")
            return False
        self.param.update(message=f"Installed policy {folder.name}; it is now offered as a decider.",
                          message_kind="success")
        if self._on_change:
            self._on_change()
        return True

    @param.depends("message", "message_kind")
    def _message(self):
        return alert(self.message, self.message_kind) if self.message else pn.Spacer(height=0)

    def __panel__(self):
        data_button = pn.widgets.Button(label="Validate and store data", color="primary")
        data_button.on_click(lambda event: self.upload_data(self.data_file.filename, self.data_file.value))
        policy_button = pn.widgets.Button(label="Verify and install policy", color="primary")
        policy_button.on_click(lambda event: self.upload_policy(self.policy_file.filename, self.policy_file.value))
        limits = (f"Data: {', '.join(uploads.DATA_SUFFIXES)}, at most {uploads.MAX_DATA_BYTES // 2**20} MB "
                  f"(unpacked: {uploads.MAX_DATA_UNPACKED_BYTES // 2**20} MB, {uploads.MAX_DATA_ROWS:,} rows), "
                  f"checked like `workbench data check`. Policy: a .zip of a checkpoint folder "
                  f"({', '.join(uploads.POLICY_FILES)}), at most {uploads.MAX_POLICY_BYTES // 2**20} MB, verified "
                  "before it is installed.")
        return pn.Column(
            note(html.escape(limits)),
            pn.Row(pn.Column(self.data_file, pn.widgets.TextInput.from_param(self.param.dataset_name),
                             pn.widgets.TextInput.from_param(self.param.symbol),
                             pn.widgets.TextInput.from_param(self.param.timezone),
                             pn.widgets.Checkbox.from_param(self.param.adjusted), data_button),
                   pn.Column(self.policy_file, pn.widgets.TextInput.from_param(self.param.policy_name), policy_button)),
            self._message, sizing_mode="stretch_width")
