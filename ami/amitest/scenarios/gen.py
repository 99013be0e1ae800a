#!/usr/bin/env python3
"""Regenerates the Originate scenario templates from the captures.

Run from ami/amitest/scenarios: python3 gen.py
Each <kind>.txt is the event stream of one single-call capture in AMI wire
form (one message per block), with the values that vary per call replaced by
${NAME} placeholders (channel names, Uniqueids, ActionID, caller id, contexts
and extensions, the Originate's variables, CDR times). Special lines:
  @wait ring|talk   where the fake waits Outcome.Ring / Outcome.Talk
  @vars CHAN1|CHAN2|FAILED   the following VarSet is repeated per variable
  @reply            where a synchronous Originate gets its response
"""
import json, re, sys

# name: capture, or (capture, ChannelId of the Originate to take)
CAPS = {
    "c2c-busy": ("67_originate_into_queue_clicktocall", "c67-b"),
    "c2c-answer": ("67_originate_into_queue_clicktocall", "c67-a"),
    "answer": "10_originate_local100_answer",
    "answer-app": "20_originate_local400_app_wait",
    "answer-wait": "17_originate_local400_channelid",
    "busy": "11_originate_local200_busy",
    "noanswer": "12_originate_local300_noanswer_t5000",
    "nosuchexten": "13_originate_local999_nosuchexten",
    "badtech": "14_originate_foo_badtech",
    "congestion": "23_originate_local250_congestion",
    "reject": "24_originate_local260_reject_before_answer",
}

def load(name):
    msgs = [json.loads(l) for l in open("../../testdata/%s.jsonl" % name)]
    return msgs

def gen(kind, name):
    chid = None
    if isinstance(name, tuple):
        name, chid = name
    msgs = load(name)
    orig = next(m for m in msgs if m["dir"] == "C->S" and dict(m["headers"]).get("Action") == "Originate"
                and (chid is None or dict(m["headers"]).get("ChannelId") == chid))
    oh = orig["headers"]
    od = dict(oh)
    dial = od["Channel"]
    actionid = od["ActionID"]
    lexten, lcontext = "", ""
    if dial.startswith("Local/"):
        lexten, lcontext = dial[6:].split("@")
    texten, tcontext = od.get("Exten", ""), od.get("Context", "")
    cid = od.get("CallerID", "")
    mm = re.match(r'"(.*)" <(.*)>', cid)
    cidname, cidnum = mm.group(1), mm.group(2)
    variables = [h[1] for h in oh if h[0] == "Variable"]
    callid = variables[0].split("=", 1)[1]
    start = msgs.index(orig)
    evs = []
    if chid is None:
        for m in msgs[start + 1:]:
            if m["dir"] != "S->C":
                break
            d = dict(m["headers"])
            if d.get("Response") and "Event" not in d:
                continue  # the action's reply
            evs.append(m)
    else:
        # a session with several calls: this call's events are those linked
        # to its ChannelId, its OriginateResponse, and the Cdrs of its channels
        uids = set()
        for m in msgs[start + 1:]:
            if m["dir"] == "C->S" and dict(m["headers"]).get("Action") == "Originate":
                break
            d = dict(m["headers"])
            if m["dir"] != "S->C" or "Event" not in d:
                continue
            if d.get("Linkedid") == chid or d.get("DestLinkedid") == chid or d.get("ActionID") == od["ActionID"] or d.get("UniqueID") in uids:
                for k in ("Uniqueid", "DestUniqueid"):
                    if d.get(k):
                        uids.add(d[k])
                evs.append(m)
    chan1 = chan2 = chan3 = chan4 = uid1 = uid2 = uid3 = uid4 = uidf = None
    for m in evs:
        d = dict(m["headers"])
        if d.get("Event") == "Newchannel":
            c = d["Channel"]
            if c.endswith(";1") and chan1 is None:
                chan1, uid1 = c, d["Uniqueid"]
            elif c.endswith(";2") and chan2 is None:
                chan2, uid2 = c, d["Uniqueid"]
            elif c.endswith(";1"):
                chan3, uid3 = c, d["Uniqueid"]  # the second Local pair (the customer leg)
            elif c.endswith(";2"):
                chan4, uid4 = c, d["Uniqueid"]
            elif c == "OutgoingSpoolFailed":
                uidf = d["Uniqueid"]
    out = []
    answered = False
    prev_t = None
    waited = False
    run_who = None
    for m in evs:
        hs = m["headers"]
        d = dict(hs)
        ev = d["Event"]
        t = m["t"]
        ch = d.get("Channel") or d.get("DestChannel") or ""
        if prev_t is not None and t - prev_t > 0.5:
            out.append("@wait " + ("talk" if answered else "ring"))
            waited = True
        prev_t = t
        if ev == "OriginateResponse":
            out.append("@reply")
        if ev == "VarSet" and d.get("Variable", "").lstrip("_") in [v.split("=")[0].lstrip("_") for v in variables] and d.get("Value") == callid:
            who = "CHAN1" if ch == chan1 else "CHAN2" if ch == chan2 else "FAILED"
            # one template per run of VarSets of the Originate's variables
            if run_who == who:
                continue
            run_who = who
            out.append("@vars " + who)
        else:
            run_who = None
        side_t = (ch == chan1 and answered) or ev == "OriginateResponse" or ch == "OutgoingSpoolFailed"
        lines = []
        for k, v in hs:
            nv = v
            if v == chan1: nv = "${CHAN1}"
            elif v == chan2: nv = "${CHAN2}"
            elif chan3 and v == chan3: nv = "${CHAN3}"
            elif chan4 and v == chan4: nv = "${CHAN4}"
            elif v in (uid1, uid2, uid3, uid4, uidf) and v:
                nv = {uid1: "${UID1}", uid2: "${UID2}", uid3: "${UID3}", uid4: "${UID4}", uidf: "${UIDF}"}[v]
            elif k == "Uniqueid" and v == "<unknown>" and ev == "OriginateResponse":
                nv = "${ORIG_UID}"
            elif v == dial: nv = "${DIAL}"
            elif k == "ActionID" and v == actionid: nv = "${ACTIONID}"
            elif v == cid and k == "CallerID": nv = "${CALLERID}"
            elif v == cidnum and (k.endswith("CallerIDNum") or k.endswith("ConnectedLineNum") or k == "Source"): nv = "${CIDNUM}"
            elif v == cidname and (k.endswith("CallerIDName") or k.endswith("ConnectedLineName")): nv = "${CIDNAME}"
            elif k in ("StartTime", "AnswerTime", "EndTime") and v: nv = "${%s}" % k.upper()
            elif k in ("Duration", "BillableSeconds"): nv = "${%s}" % k.upper()
            elif k in ("EventTV", "SessionTV"): nv = "${EVENTTV}"
            elif k == "DialString" and lexten and v == lexten + "@" + lcontext: nv = "${LEXTEN}@${LCONTEXT}"
            elif k == "DialString" and texten and v.startswith(texten + "@"): nv = "${EXTEN}" + v[len(texten):]
            elif (k.endswith("Exten") or k in ("Destination", "Extension")) and v and v != "failed" and v in (lexten, texten):
                if v == lexten and v != texten: nv = "${LEXTEN}"
                elif v == texten and v != lexten: nv = "${EXTEN}"
                else: nv = "${EXTEN}" if side_t else "${LEXTEN}"
            elif k.endswith("Context") and v and v in (lcontext, tcontext):
                if v == lcontext and v != tcontext: nv = "${LCONTEXT}"
                elif v == tcontext and v != lcontext: nv = "${CONTEXT}"
                else: nv = "${CONTEXT}" if side_t else "${LCONTEXT}"
            elif callid in v: nv = v.replace(callid, "${CALLID}")
            if ev == "VarSet" and out and out[-1].startswith("@vars "):
                if k == "Variable": nv = "${VARNAME}"
                if k == "Value": nv = "${VARVALUE}"
            lines.append("%s: %s" % (k, nv))
        out.append("\n".join(lines))
        if ev == "DialEnd" and d.get("DialStatus") == "ANSWER":
            answered = True
        if ev == "DialBegin" and not waited and kind != "noanswer":
            out.append("@wait ring")
            waited = True
    if not waited:
        out.insert(0, "@wait ring")
    res = []
    for x in out:
        if x.startswith("@vars-run"):
            continue
        res.append(x)
    with open(kind + ".txt", "w") as f:
        f.write("# generated by gen.py from %s.jsonl; do not edit\n" % name)
        if chan3:
            # the second Local pair's name, as the dialplan builds it
            base = chan3.rsplit("-", 1)[0]
            f.write("@legs %s\n" % base.replace(texten, "${EXTEN}"))
        for x in res:
            f.write(x + "\n\n" if not x.startswith("@") else x + "\n")

for k, n in CAPS.items():
    gen(k, n)

# the observed orders of 50_*.summary.json, most frequent first
summ = json.load(open("../../testdata/50_originate_ordering_race_stats.summary.json"))
with open("orders.txt", "w") as f:
    f.write("# generated by gen.py from 50_originate_ordering_race_stats.summary.json; do not edit\n")
    for kind, orders in summ["orders"].items():
        for o, n in sorted(orders.items(), key=lambda x: -x[1]):
            f.write("%s\t%d\t%s\n" % (kind, n, o))
