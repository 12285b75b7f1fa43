"""What the registry knows of HuggingChat without talking to it: models, aliases, the login form and its help.

The provider itself is providers/huggingchat.py.
"""

from __future__ import annotations

from providers.base import BackendInfo, CredentialField, ModelInfo
from providers.huggingchat_wire import DISPLAY_NAME

COOKIES_ENV = "CHATDECK_HUGGINGCHAT_COOKIES"

# fmt: off
INFO = BackendInfo(
    name="huggingchat",
    display_name=DISPLAY_NAME,
    needs_credentials=True,
    tool_servers=True,  # the MCP servers chat-ui lists (GET /api/mcp/servers), chosen per request
    system_prompt="preprompt",  # POST /conversation {"model", "preprompt"}: the root system message's content
    fallback_models=[  # the seed's list (web-backends.md §1.4), vision models marked
        ModelInfo("Qwen/Qwen2.5-72B-Instruct", "Qwen 2.5 72B Instruct"),
        ModelInfo("meta-llama/Llama-3.3-70B-Instruct", "Llama 3.3 70B Instruct"),
        ModelInfo("CohereForAI/c4ai-command-r-plus-08-2024", "Command R+ 08-2024"),
        ModelInfo("deepseek-ai/DeepSeek-R1-Distill-Qwen-32B", "DeepSeek R1 Distill Qwen 32B", reasoning=True),
        ModelInfo("Qwen/QwQ-32B", "QwQ 32B", reasoning=True),
        ModelInfo("nvidia/Llama-3.1-Nemotron-70B-Instruct-HF", "Llama 3.1 Nemotron 70B"),
        ModelInfo("Qwen/Qwen2.5-Coder-32B-Instruct", "Qwen 2.5 Coder 32B"),
        ModelInfo("meta-llama/Llama-3.2-11B-Vision-Instruct", "Llama 3.2 11B Vision", vision=True),
        ModelInfo("mistralai/Mistral-Nemo-Instruct-2407", "Mistral Nemo"),
        ModelInfo("microsoft/Phi-3.5-mini-instruct", "Phi 3.5 mini"),
    ],
    aliases={  # the seed's (web-backends.md §1.4), "qwen-2.5-72b" kept as the seed maps it
        "qwen-2.5-72b": "Qwen/Qwen2.5-Coder-32B-Instruct", "llama-3": "meta-llama/Llama-3.3-70B-Instruct",
        "llama-3.3-70b": "meta-llama/Llama-3.3-70B-Instruct",
        "command-r-plus": "CohereForAI/c4ai-command-r-plus-08-2024",
        "deepseek-r1": "deepseek-ai/DeepSeek-R1-Distill-Qwen-32B", "qwq-32b": "Qwen/QwQ-32B",
        "nemotron-70b": "nvidia/Llama-3.1-Nemotron-70B-Instruct-HF",
        "qwen-2.5-coder-32b": "Qwen/Qwen2.5-Coder-32B-Instruct",
        "llama-3.2-11b": "meta-llama/Llama-3.2-11B-Vision-Instruct",
        "mistral-nemo": "mistralai/Mistral-Nemo-Instruct-2407",
        "phi-3.5-mini": "microsoft/Phi-3.5-mini-instruct", "flux": "black-forest-labs/FLUX.1-dev",
        "flux-dev": "black-forest-labs/FLUX.1-dev", "flux-schnell": "black-forest-labs/FLUX.1-schnell",
        "qwen-2-vl-7b": "Qwen/Qwen2-VL-7B-Instruct", "gemma-2-27b": "google/gemma-2-27b-it",
        "qwen-2-72b": "Qwen/Qwen2-72B-Instruct", "qvq-72b": "Qwen/QVQ-72B-Preview",
        "stable-diffusion-3.5-large": "stabilityai/stable-diffusion-3.5-large",
    },
    description="Open models hosted by Hugging Face, with your huggingface.co login (cookies).",
    credential_fields=(
        CredentialField(
            "cookies", "huggingface.co cookies", COOKIES_ENV, multiline=True,
            help="Paste the Cookie header of a request to HuggingChat, or a cookie export (JSON or cookies.txt). "
                 "hf-chat is the session; huggingface.co also needs token (the login it is tied to); a "
                 "self-hosted chat-ui without a login needs hf-chat alone.",
        ),
    ),
    setup_help=(
        "1. Open HuggingChat in your browser: [huggingface.co/chat](https://huggingface.co/chat) (log in), or "
        "the self-hosted chat-ui this server is set up for (`CHATDECK_HUGGINGCHAT_URL`); send it one message.\n"
        "2. Open the developer tools (F12), tab **Network**, reload the page and click the request to `chat`.\n"
        "3. Under **Request Headers**, copy the whole value of `Cookie` and paste it here. A cookie export "
        "from an extension (JSON or `cookies.txt`) works too.\n\n"
        "Which cookies matter: `hf-chat` is your chat session and is always needed. On **huggingface.co** the "
        "session is tied to your login, so `token` is needed too. A **self-hosted chat-ui** without a login "
        "needs `hf-chat` alone (\"Check connection\" then says *anonymous session*). When HuggingChat says the "
        "login expired, paste fresh cookies. The cookies are stored encrypted and only ever sent to HuggingChat."
    ),
    # messageId is the parent in the conversation's message tree; without it the provider would continue from the
    # conversation's last message, which for a new version of a turn is the old answer
    branch_keys=("conversationId", "messageId"),
    seed=1,  # the design card's first, the compare page's first column
)
# fmt: on
