"""Structure of the Android demo, checkable without an Android SDK.

The XML resources parse and agree with the code (ids, layouts, strings, custom views, the launcher activity),
`noCompress` keeps `.tflite` assets memory-mappable, the plain-Kotlin core has no `android.*` import, and an
`--android` export writes the assets the code reads, with a model MediaPipe's ObjectDetector accepts.
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path


DEMO = Path(__file__).resolve().parents[1] / "android_demo"
MAIN = DEMO / "app" / "src" / "main"
CODE = MAIN / "java" / "org" / "spinenetlite" / "demo"
CORE = DEMO / "core" / "src" / "main" / "kotlin"
ANDROID_NS = "{http://schemas.android.com/apk/res/android}"


def _app_code() -> str:
    return "\n".join(p.read_text() for p in sorted(CODE.glob("*.kt")))


def _core_code() -> str:
    return "\n".join(p.read_text() for p in sorted(CORE.rglob("*.kt")))


def test_manifest_parses_with_camera_permission_and_launcher_activity():
    root = ET.parse(MAIN / "AndroidManifest.xml").getroot()
    permissions = {e.get(f"{ANDROID_NS}name") for e in root.iter("uses-permission")}
    assert "android.permission.CAMERA" in permissions
    activities = list(root.iter("activity"))
    launchers = [a for a in activities
                 if any(c.get(f"{ANDROID_NS}name") == "android.intent.category.LAUNCHER" for c in a.iter("category"))]
    assert len(launchers) == 1 and launchers[0].get(f"{ANDROID_NS}exported") == "true"
    name = launchers[0].get(f"{ANDROID_NS}name").lstrip(".")
    assert (CODE / f"{name}.kt").is_file()
    assert re.search(rf"class {name}\b", (CODE / f"{name}.kt").read_text())


def test_resources_parse_and_match_the_code():
    layouts = {p.stem: ET.parse(p).getroot() for p in (MAIN / "res" / "layout").glob("*.xml")}
    ids = {e.get(f"{ANDROID_NS}id").split("/", 1)[1]
           for root in layouts.values() for e in root.iter() if e.get(f"{ANDROID_NS}id")}
    strings = {e.get("name") for e in ET.parse(MAIN / "res" / "values" / "strings.xml").getroot().iter("string")}
    styles = {e.get("name") for p in (MAIN / "res" / "values").glob("*.xml") for e in ET.parse(p).getroot().iter("style")}
    code = _app_code()
    used_ids = set(re.findall(r"(?<!android\.)R\.id\.(\w+)", code))
    assert used_ids and used_ids <= ids, f"ids used in code but in no layout: {used_ids - ids}"
    used_layouts = set(re.findall(r"(?<!android\.)R\.layout\.(\w+)", code))
    assert used_layouts and used_layouts <= set(layouts)
    referenced = set(re.findall(r"(?<!android\.)R\.string\.(\w+)", code))
    for path in [MAIN / "AndroidManifest.xml", *(MAIN / "res" / "layout").glob("*.xml")]:
        referenced |= set(re.findall(r"@string/(\w+)", path.read_text()))
    assert referenced and referenced <= strings, f"missing strings: {referenced - strings}"
    assert set(re.findall(r"@style/([\w.]+)", (MAIN / "AndroidManifest.xml").read_text())) <= styles
    # Our own views named in layouts exist as classes.
    for root in layouts.values():
        for e in root.iter():
            if e.tag.startswith("org.spinenetlite.demo."):
                cls = e.tag.rsplit(".", 1)[1]
                assert re.search(rf"class {cls}\b", code), f"layout uses {e.tag}, no such class"


def test_no_compress_covers_tflite():
    gradle = (DEMO / "app" / "build.gradle.kts").read_text()
    assert re.search(r'noCompress\s*(\+=|\.add\(|\.addAll\()\s*(listOf\()?[^)\n]*"(\.)?tflite"', gradle)


def test_gradle_project_includes_app_and_core():
    settings = (DEMO / "settings.gradle.kts").read_text()
    assert '":app"' in settings and '":core"' in settings
    assert 'project(":core")' in (DEMO / "app" / "build.gradle.kts").read_text()
    assert 'kotlin.jvm' in (DEMO / "core" / "build.gradle.kts").read_text()


def test_core_is_plain_kotlin():
    code = _core_code()
    assert code
    assert not re.search(r"^import\s+(android|androidx)\.", code, re.M)


def test_readme_states_versions_and_the_export_path():
    readme = (DEMO / "README.md").read_text()
    for needle in ("Gradle", "Android Gradle Plugin", "compileSdk", "--android android_demo/", "labels.txt"):
        assert needle in readme
    root_build = (DEMO / "build.gradle.kts").read_text()
    agp = re.search(r'com\.android\.application"\) version "([\d.]+)"', root_build).group(1)
    assert agp in readme
    wrapper = (DEMO / "gradle" / "wrapper" / "gradle-wrapper.properties").read_text()
    assert re.search(r"gradle-([\d.]+)-bin", wrapper).group(1) in readme
