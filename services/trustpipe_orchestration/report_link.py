"""The hour's report in the Airflow UI: the task that writes it (``HourReportOperator``) carries an
extra link, "Hour report", to the page it uploaded. The plugin (``TrustpipePlugin``, registered
through the package's ``airflow.plugins`` entry point) tells the API server about the link."""

from __future__ import annotations

from typing import Any

from airflow.plugins_manager import AirflowPlugin
from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import BaseOperatorLink


class HourReportLink(BaseOperatorLink):
    """The page ``HourReportOperator`` uploaded (its return value's ``url``)."""

    name = "Hour report"

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        return str(getattr(operator, "report_url", "") or "")


class HourReportOperator(PythonOperator):
    """A Python task whose callable returns ``{"url": ...}``: the link is set from it."""

    operator_extra_links = (HourReportLink(),)

    def execute(self, context: Any) -> Any:
        result = super().execute(context)
        self.report_url = result["url"]
        return result


class TrustpipePlugin(AirflowPlugin):
    name = "trustpipe"
    operator_extra_links = [HourReportLink()]  # noqa: RUF012 (AirflowPlugin declares it a list)
