import leadq


def test_all_names_exist_and_are_exported() -> None:
    for name in leadq.__all__:
        assert hasattr(leadq, name), name
    public = {n for n in dir(leadq) if not n.startswith("_") and n[0].isupper()}
    assert public <= set(leadq.__all__)
