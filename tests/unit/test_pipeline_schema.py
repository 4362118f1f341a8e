import json

import jsonschema
import pytest

from secmlops_core.pipeline.formats import to_document
from secmlops_core.pipeline.library import list_templates, load_template
from secmlops_core.pipeline.schema import pipeline_json_schema
from tests.conftest import REPO_ROOT


def test_published_schema_is_up_to_date():
    published = json.loads((REPO_ROOT / "docs" / "pipeline.schema.json").read_text())
    assert published == pipeline_json_schema(), "regenerate with: secmlops pipeline schema > docs/pipeline.schema.json"


@pytest.mark.parametrize("template_id", sorted(list_templates()))
def test_templates_conform_to_the_schema(template_id):
    jsonschema.validate(to_document(load_template(template_id)), pipeline_json_schema())


def test_schema_rejects_unknown_property():
    document = to_document(load_template("pds"))
    document["stages"][0]["properties"]["colour"] = "red"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, pipeline_json_schema())
