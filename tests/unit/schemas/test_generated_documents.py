from schemas.generate import drift


def test_generated_json_schema_and_asyncapi_match_the_models():
    assert drift() == [], "run `make schemas` and commit schemas/generated/"
