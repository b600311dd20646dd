"""Members in their own language, through the real discord.py against the fakes: each language's commands
synced (the fake holds them to Discord's rules), a member's replies and result in the locale their
client sends, and what is posted for everyone (the review channel, the audit channel) in the server's."""

from __future__ import annotations

import pytest

from tests.conftest import GUILD_ID, embed_fields, eventually, is_ephemeral
from tests.e2e.test_approval_e2e import ADMIN, MOD, config, moderated, one_post, press
from tests.e2e.test_audit_e2e import embeds

ALICE = 4000

# What a member reads, by the locale their Discord client sends: a refused blank prompt, /quota's
# title, the result's "Requested by" and "Cost".
SAID = {
    "en-US": ("The prompt is empty.", "Your image credits", "Requested by alice", "Cost"),
    "de": ("Der Prompt ist leer.", "Deine Bild-Credits", "Angefragt von alice", "Kosten"),
    "fr": ("Le prompt est vide.", "Tes crédits d’image", "Demandée par alice", "Coût"),
    "es-ES": ("El prompt está vacío.", "Tus créditos de imagen", "Pedido por alice", "Coste"),
    "pt-BR": ("O prompt está vazio.", "Seus créditos de imagem", "Pedida por alice", "Custo"),
    "ja": ("プロンプトが空です。", "あなたの画像クレジット", "リクエスト：alice", "コスト"),
}

BUTTONS = {
    "en-US": ["Reroll", "Edit", "Details", "Delete", "Report"],
    "de": ["Reroll", "Bearbeiten", "Details", "Löschen", "Melden"],
    "fr": ["Reroll", "Modifier", "Détails", "Supprimer", "Signaler"],
    "es-ES": ["Reroll", "Editar", "Detalles", "Borrar", "Informar"],
    "pt-BR": ["Reroll", "Editar", "Detalhes", "Apagar", "Denunciar"],
    "ja": ["Reroll", "編集", "詳細", "削除", "報告"],
}
EDITS = {  # a result's second row (zoom out, vary region) and third (pan)
    "en-US": [["Zoom Out 1.5×", "Zoom Out 2×", "Vary Region"], ["Pan ←", "Pan →", "Pan ↑", "Pan ↓"]],
    "de": [["Herauszoomen 1,5×", "Herauszoomen 2×", "Bereich variieren"],
           ["Schwenken ←", "Schwenken →", "Schwenken ↑", "Schwenken ↓"]],
    "fr": [["Dézoomer 1,5×", "Dézoomer 2×", "Varier une zone"], ["Décaler ←", "Décaler →", "Décaler ↑", "Décaler ↓"]],
    "es-ES": [["Alejar 1,5×", "Alejar 2×", "Variar región"],
              ["Desplazar ←", "Desplazar →", "Desplazar ↑", "Desplazar ↓"]],
    "pt-BR": [["Afastar 1,5×", "Afastar 2×", "Variar região"], ["Deslocar ←", "Deslocar →", "Deslocar ↑", "Deslocar ↓"]],
    "ja": [["ズームアウト 1.5×", "ズームアウト 2×", "領域を変化"], ["パン ←", "パン →", "パン ↑", "パン ↓"]],
}


async def test_each_language_is_synced_with_the_commands(harness):
    synced = {c["name"]: c for c in harness.discord.synced[GUILD_ID]}  # the fake refused nothing
    quota = synced["quota"]
    # French keeps "quota": a translation equal to the English name is left out, Discord shows the default.
    assert quota["name_localizations"] == {"de": "kontingent", "es-ES": "cuota", "es-419": "cuota", "pt-BR": "cota",
                                           "ja": "クレジット"}
    assert quota["description_localizations"]["ja"] == "あなたの画像クレジット：今日の残りと各モデルの料金"
    prompt = next(o for o in synced["sdxl"]["options"] if o["name"] == "prompt")
    assert prompt["description_localizations"]["de"] == "Was gemalt werden soll"
    assert prompt["name_localizations"]["ja"] == "プロンプト"
    words = next(o for o in synced["config"]["options"] if o["name"] == "words")
    strict = next(o for o in words["options"] if o["name"] == "strict")
    state = strict["options"][0]
    assert [c["name_localizations"]["fr"] for c in state["choices"]] == ["oui", "non"]
    for command in synced.values():
        for locale in ("de", "fr", "es-ES", "pt-BR", "ja"):
            # a message menu has no description: its name is what members read
            shown = "name_localizations" if command.get("type") == 3 else "description_localizations"
            assert locale in command[shown], (command["name"], locale)


@pytest.mark.parametrize("locale", sorted(SAID))
async def test_a_member_is_answered_in_their_language(harness, locale):
    empty, title, requested, cost = SAID[locale]
    _, refusal = await harness.answer("sdxl", {"prompt": "\u200b"}, locale=locale)
    assert is_ephemeral(refusal) and refusal["content"].startswith(empty), refusal["content"]
    _, quota = await harness.answer("quota", locale=locale)
    assert quota["embeds"][0]["title"] == title
    _, result = await harness.answer("sdxl", {"prompt": "a red fox in snow", "seed": 7}, locale=locale)
    (embed,) = result["embeds"]
    assert embed["author"]["name"] == requested
    assert cost in embed_fields(result)
    first, *edits = [[c["label"] for c in row["components"]] for row in result["components"]]
    assert first == BUTTONS[locale]
    assert edits == EDITS[locale]


async def test_a_wrong_value_names_the_option_as_the_members_client_shows_it(harness):
    _, said = await harness.answer("sdxl", {"prompt": "a red fox", "width": 1001}, locale="ja", validate=False)
    assert said["content"] == "`幅` は 8 の倍数にしてください。最も近い有効な値は 1000 または 1008 です。"
    _, said = await harness.answer("sdxl", {"prompt": "a red fox", "width": 1001}, locale="de", validate=False)
    assert said["content"] == ("`breite` muss ein Vielfaches von 8 sein; die nächsten gültigen Werte sind "
                               "1000 oder 1008.")


async def test_help_names_the_commands_as_the_members_client_shows_them(harness):
    _, reply = await harness.answer("help", locale="de")
    fields = {f["name"]: f["value"] for f in reply["embeds"][0]["fields"]}
    commands = fields["Befehle"].splitlines()
    assert "/kontingent: Deine Bild-Credits: was heute übrig ist und was jedes Modell kostet" in commands
    assert "/sdxl: Ein Bild mit Stable Diffusion XL Base 1.0 erstellen" in commands  # a model's name is its own
    assert fields["Für Server-Admins (Server verwalten)"].splitlines()[0].startswith("/config: Wo der Bot genutzt")
    assert "/sdxl: 2 Credits" in fields["Kosten pro Bild"]
    _, reply = await harness.answer("help", locale="ja")
    assert reply["embeds"][0]["title"] == "このボットの使い方"


async def test_a_servers_own_rules_refuse_in_the_members_language(harness):
    await config(harness.discord, "words add", {"term": "castle"})
    _, said = await harness.answer("sdxl", {"prompt": "a castle at dawn"}, locale="fr")
    assert said["content"] == "Ton prompt contient `castle`, que ce serveur a bloqué."
    _, said = await harness.answer("sdxl", {"prompt": "a castle at dawn"}, locale="pt-BR")
    assert said["content"] == "Seu prompt usa `castle`, que este servidor bloqueou."


@pytest.fixture
def bot_settings() -> dict:
    return {"audit_post_interval_seconds": 1.0}


async def test_posts_for_everyone_are_in_the_servers_language(harness):
    """A German member in a French server: their own answers in German, the review channel and the
    audit channel in French, and the moderator's private answers in the moderator's language."""
    fake = harness.discord
    await fake.set_guild_locale(GUILD_ID, "fr")
    audit = await fake.add_channel(GUILD_ID, name="audit")
    await config(fake, "audit-channel", {"channel": audit})
    art, review = await moderated(fake)
    interaction = await fake.invoke("sdxl", {"prompt": "a lighthouse at dusk", "seed": 5}, user_id=ALICE,
                                    channel_id=art, locale="de")
    await interaction.wait_callback()
    waiting = await interaction.wait_followup()
    assert is_ephemeral(waiting) and waiting["content"].startswith("Dein Bild ist fertig und wartet auf die Freigabe")
    post = await one_post(fake, review)
    assert post["content"] == f"En attente d’approbation : une image de <@{ALICE}> pour <#{art}>."
    fields = embed_fields(post)
    assert fields["Demandée par"] == f"<@{ALICE}>" and "Kosten" in fields  # the member's result, the server's frame
    labels = [c["label"] for row in post["components"] for c in row["components"]]
    assert labels == ["Approuver", "Refuser"]
    pressed, callback = await press(fake, post, "Approuver", user_id=8000, permissions=MOD, locale="es-ES")
    done = callback["data"] if callback["type"] == 4 else await pressed.wait_followup()
    assert done["content"].startswith("Aprobada; publicada en"), done
    await eventually(lambda: any(is_ephemeral(f) and f["content"].startswith("Ein Moderator hat dein Bild freigegeben")
                                 for f in interaction.followups))
    approved = [m for m in fake.channel_messages(art) if not is_ephemeral(m)]
    assert approved[-1]["content"] == f"Image de <@{ALICE}>, approuvée par <@8000>."
    await fake.wait_for(lambda: {"Configuration modifiée", "Résultat approuvé"} <= {e["title"] for e in
                                                                                   embeds(fake, audit)}, timeout=10)


@pytest.mark.parametrize("ledger_settings", [{"dev_guild_id": None}])  # commands global: usable in DMs
async def test_personal_use_is_worded_in_the_members_language(harness):
    _, quota = await harness.answer("quota", dm=True, locale="de")
    assert quota["embeds"][0]["title"] == "Deine persönlichen Bild-Credits"
    assert embed_fields(quota)["Kontingent"] == "5 pro Tag (persönlich)"
    _, message = await harness.answer("sdxl", {"prompt": "a lighthouse at dusk"}, guild_id=7000, user_install=True,
                                      locale="fr")
    assert is_ephemeral(message) and message["content"].startswith("Toi seul vois ceci : ce serveur n’a pas ajouté")
    labels = [c["label"] for row in message["components"] for c in row["components"]]
    assert labels == ["Reroll", "Modifier", "Détails"]


async def admin(harness, sub: str, options: dict | None = None, *, locale: str) -> dict:
    """An admin's /config command from a Discord client in `locale`; what they read back."""
    interaction = await harness.invoke("config", options or {}, subcommand=sub, user_id=9000, username="admin",
                                       permissions=ADMIN, locale=locale)
    callback = await interaction.wait_callback()
    return callback["data"] if callback["type"] == 4 else await interaction.wait_followup()


async def test_config_answers_an_admin_in_german(harness):
    said = await admin(harness, "words add", {"term": "castle"}, locale="de")
    assert is_ephemeral(said) and said["content"] == "Gesperrt: `castle`. Dieser Server sperrt 1 Wort oder Wendung."
    said = await admin(harness, "words add", {"term": "!!!"}, locale="de")
    assert is_ephemeral(said) and said["content"] == ("Das kann nicht gesperrt werden: es hat keine Buchstaben oder "
                                                      "Ziffern, und nur ganze Wörter werden erkannt.")
    said = await admin(harness, "reports", {"hide_after": 3}, locale="de")
    assert said["content"].splitlines() == [
        "Ein Ergebnis wird jetzt nach 3 Meldungen ausgeblendet.", "Prüfkanal: keiner gesetzt", "Freigabe: kein Kanal",
        "Meldungen: an, ein Ergebnis wird nach 3 Meldungen ausgeblendet",
        "Mitglieder können nichts melden, bis ein Prüfkanal gesetzt ist."]
    said = await admin(harness, "styles remove", {"name": "nope"}, locale="de")
    assert is_ephemeral(said) and said["content"] == "Dieser Server hat keinen Stil namens `nope`."
    assert "Gesperrte Wörter (1)" in embed_fields(await admin(harness, "show", locale="de"))


async def test_config_answers_an_admin_in_japanese(harness):
    art = await harness.discord.add_channel(GUILD_ID, name="art")
    said = await admin(harness, "channels allow", {"channel": art}, locale="ja")
    assert is_ephemeral(said) and said["content"] == f"<#{art}> を許可しました。 ボットを使える場所：<#{art}>。"
    said = await admin(harness, "styles remove", {"name": "nope"}, locale="ja")
    assert is_ephemeral(said) and said["content"] == "このサーバーに `nope` という名前のスタイルはありません。"
    shown = await admin(harness, "show", locale="ja")
    assert shown["embeds"][0]["title"] == "このサーバーのボット設定"
    fields = embed_fields(shown)
    assert fields["チャンネル"] == f"<#{art}>" and fields["生成できる人"] == "全員"
    _, english = await harness.answer("config", {}, subcommand="show", user_id=9000, permissions=ADMIN)
    assert english["embeds"][0]["title"] == "Bot configuration for this server"  # another admin, another language
