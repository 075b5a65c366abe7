// nattest's Chromium peer: one call through the lab's signaling server, reported to the
// agent (nattest.peers.chromium.agent) over the /control WebSocket as it happens.
//
// Same protocol and media checks as the aiortc peer (nattest.peers.aiortc): join/ready/
// offer/answer/ice/leave on signaling; fake audio and video both ways; the caller's
// ordered `metadata` data channel carries the echo probes (3 text, 3 binary) and the
// `nattest-media` / `nattest-done` handshakes. The agent stamps every report with the
// call's clock on arrival; the page sends raw getStats dicts and the agent converts them.
"use strict";

const PROBE_TAG = "nattest-probe", MEDIA_TAG = "nattest-media", DONE_TAG = "nattest-done";
const CHANNEL_OPEN_TIMEOUT = 5, MEDIA_GRACE = 5, ECHO_GRACE = 3, DONE_GRACE = MEDIA_GRACE + ECHO_GRACE + 1;
const GATHER_LIMIT = 5;      // s: without trickle, wait at most this for gathering to complete
const PAIR_POLL = 0.25;      // s: getStats polling for the selected pair
const SAMPLE_EVERY = 1.0;    // s: bitrate samples

const ctl = new WebSocket(`ws://${location.host}/control`);
// the fake devices open while the call's configuration is on its way
const devices = navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 640, height: 480, frameRate: 30 } });
const report = (type, data = {}) => { if (ctl.readyState === 1) ctl.send(JSON.stringify({ type, ...data })); };
const log = (text) => report("log", { text });
const sleep = (s) => new Promise((r) => setTimeout(r, s * 1000));
const now = () => performance.now() / 1000;

class Failed extends Error {}

function hex(n) {
  const b = new Uint8Array(n);
  crypto.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

function statsList(report_) { return Array.from(report_.values()); }

// A pending wait that something else resolves.
function latch() {
  let open;
  const p = new Promise((r) => { open = r; });
  p.open = open; p.isOpen = false;
  p.then(() => { p.isOpen = true; });
  return p;
}

function within(promise, seconds) {
  return Promise.race([promise.then(() => true), sleep(seconds).then(() => false)]);
}

class Call {
  constructor(cfg) {
    this.cfg = cfg;
    this.name = cfg.name;
    this.trickle = cfg.peer_can.includes("trickle");
    this.canRestart = cfg.peer_can.includes("ice-restart");
    this.remoteSdp = "";
    this.remoteLines = [];
    this.pendingIce = [];
    this.haveRemote = false;
    this.connected = latch();
    this.failed = latch();
    this.peerLeft = latch();
    this.ready = latch();  // the peer connection and its transceivers exist
    this.channelOpen = latch();
    this.channelHeard = latch();
    this.mediaHeard = latch();
    this.doneHeard = latch();
    this.echoesDone = latch();
    this.sent = new Map();
    this.echoed = new Set();
    this.mediaTold = false;
    this.lastPairId = null;
    this.restarting = false;
    this.phase = "start";
  }

  // ------------------------------------------------------------------ signaling
  async connectSignaling(deadline) {
    let last = "no attempt";
    while (now() < deadline) {
      try {
        this.ws = await new Promise((resolve, reject) => {
          const ws = new WebSocket(this.cfg.signaling);
          ws.onopen = () => resolve(ws);
          ws.onerror = () => reject(new Error("connection refused or unreachable"));
        });
        break;
      } catch (e) { last = e.message; await sleep(0.1); }
    }
    if (!this.ws) throw new Failed(`signaling server ${this.cfg.signaling} unreachable: ${last}`);
    this.inbox = [];
    this.waiter = null;
    this.ws.onmessage = (ev) => {
      let msg;
      try { msg = JSON.parse(ev.data); } catch { return; }
      if (msg.type === "leave") this.peerLeft.open();
      if (this.negotiated && (msg.type === "ice" || msg.type === "offer" || msg.type === "answer")) {
        this.onLateMessage(msg).catch((e) => log(`late ${msg.type}: ${e}`));
        return;
      }
      this.inbox.push(msg);
      if (this.waiter) { const w = this.waiter; this.waiter = null; w(); }
    };
    this.ws.onclose = () => { this.inbox.push(null); if (this.waiter) this.waiter(); };
  }

  send(type, payload = {}) {
    if (this.ws && this.ws.readyState === 1) {
      this.ws.send(JSON.stringify({ type, payload: { ...payload, from: this.name } }));
    }
  }

  async recv(deadline, waitingFor) {
    while (this.inbox.length === 0) {
      const left = deadline - now();
      if (left <= 0) throw new Failed(`timed out waiting for ${waitingFor}`);
      await Promise.race([new Promise((r) => { this.waiter = r; }), sleep(left)]);
    }
    const msg = this.inbox.shift();
    if (msg === null) {
      throw new Failed(`signaling server ${this.cfg.signaling} closed the connection while waiting for ${waitingFor}`);
    }
    return msg;
  }

  // ------------------------------------------------------------------ peer connection
  setup() {
    const pc = this.pc = new RTCPeerConnection({
      iceServers: this.cfg.ice_servers,
      iceTransportPolicy: this.cfg.policy,
      bundlePolicy: "max-bundle",
      rtcpMuxPolicy: "require",
    });
    pc.onicegatheringstatechange = () => report("state", { machine: "iceGathering", state: pc.iceGatheringState });
    pc.oniceconnectionstatechange = () => {
      const s = pc.iceConnectionState;
      report("state", { machine: "iceConnection", state: s });
      if ((s === "disconnected" || s === "failed") && this.role === "caller" && this.canRestart
          && this.connected.isOpen && !this.restarting) {
        this.restartIce().catch((e) => log(`ICE restart failed: ${e}`));
      } else if (s === "failed" && !(this.role === "caller" && this.canRestart && this.connected.isOpen)) {
        this.failed.open();
      }
    };
    pc.onconnectionstatechange = () => {
      const s = pc.connectionState;
      report("state", { machine: "connection", state: s });
      if (s === "connected") this.connected.open();
      if (s === "closed") this.failed.open();
    };
    pc.onsignalingstatechange = () => report("state", { machine: "signaling", state: pc.signalingState });
    pc.onicecandidate = (ev) => {
      if (ev.candidate && ev.candidate.candidate) {
        report("local-candidate", { line: ev.candidate.candidate, url: ev.candidate.url || null });
      }
      if (this.trickle && this.sdpSent) {
        this.send("ice", { candidate: ev.candidate ? ev.candidate.toJSON() : null });
      } else if (this.trickle) {
        (this.queuedIce = this.queuedIce || []).push(ev.candidate ? ev.candidate.toJSON() : null);
      }
    };
    pc.ontrack = (ev) => {
      const el = document.getElementById(ev.track.kind === "audio" ? "remote-audio" : "remote-video");
      el.srcObject = ev.streams[0] || new MediaStream([ev.track]);
      el.play().catch(() => {});
    };
    pc.ondatachannel = (ev) => { if (ev.channel.label === "metadata") this.useChannel(ev.channel); };
    if (this.role === "caller") {
      for (const kind of ["audio", "video"]) pc.addTransceiver(kind, { direction: "sendrecv" });
      this.claimSenders();
      this.useChannel(pc.createDataChannel("metadata", { ordered: true }));
    }
    const sctp = () => pc.sctp && pc.sctp.transport;
    this.watchDtls = setInterval(() => {
      const t = sctp() || (pc.getSenders()[0] && pc.getSenders()[0].transport);
      if (t && !t.onstatechange) {
        t.onstatechange = () => report("state", { machine: "dtls", state: t.state });
        report("state", { machine: "dtls", state: t.state });
        clearInterval(this.watchDtls);
      }
    }, 20);
  }

  async localSdp() {
    // The SDP to send: at once when the other side takes trickled candidates, else after
    // gathering completed (bounded), with every candidate in it.
    if (!this.trickle && this.pc.iceGatheringState !== "complete") {
      const done = new Promise((r) => {
        this.pc.addEventListener("icegatheringstatechange", () => {
          if (this.pc.iceGatheringState === "complete") r();
        });
      });
      if (!await within(done, GATHER_LIMIT)) log(`gathering not complete after ${GATHER_LIMIT} s: sending what there is`);
    }
    const sdp = this.pc.localDescription.sdp;
    return this.trickle ? sdp : candidatesInEverySection(sdp);
  }

  sdpGone() {
    this.sdpSent = true;
    for (const c of this.queuedIce || []) this.send("ice", { candidate: c });
    this.queuedIce = [];
  }

  async addRemoteIce(candidate) {
    if (!candidate || !candidate.candidate) {
      if (this.haveRemote) await this.pc.addIceCandidate(null).catch(() => {});
      return;
    }
    report("remote-candidate", { line: candidate.candidate });
    if (!this.haveRemote) { this.pendingIce.push(candidate); return; }
    await this.pc.addIceCandidate(candidate).catch((e) => log(`addIceCandidate: ${e}`));
  }

  async setRemote(type, sdp) {
    await this.pc.setRemoteDescription({ type, sdp });
    this.remoteSdp = sdp;
    report("remote-sdp", { sdp });
    this.haveRemote = true;
    for (const c of this.pendingIce.splice(0)) await this.pc.addIceCandidate(c).catch(() => {});
  }

  async negotiate(deadline) {
    this.phase = `waiting for the peer to join room '${this.cfg.room}'`;
    this.send("join", { roomId: this.cfg.room });
    let waiting = `the peer to join room '${this.cfg.room}'`;
    for (;;) {
      const msg = await this.recv(deadline, `${waiting} (connect timeout ${this.cfg.connect_timeout} s)`);
      const kind = msg.type, payload = msg.payload || {};
      if (kind === "error") throw new Failed(`signaling server refused: ${payload.reason}`);
      if (kind === "leave") throw new Failed(`peer '${payload.from}' left before the call connected`);
      if (kind === "ice") { await this.addRemoteIce(payload.candidate); continue; }
      if (kind === "ready") log(`ready (page time ${now().toFixed(3)} s)`);
      if (kind === "ready" && this.role === "caller" && !this.offerSent) {
        this.phase = "gathering candidates for the offer";
        await this.pc.setLocalDescription(await this.pc.createOffer());
        const sdp = await this.localSdp();
        this.send("offer", { sdp });
        report("offer-sent", { sdp });
        this.sdpGone();
        this.offerSent = true;
        this.phase = "waiting for the answer";
        waiting = "the answer";
      } else if (kind === "ready" && this.role === "callee") {
        this.phase = "waiting for the offer";
        waiting = "the offer from the caller";
      } else if (kind === "answer" && this.role === "caller" && this.offerSent) {
        await this.setRemote("answer", payload.sdp);
        break;
      } else if (kind === "offer" && this.role === "callee") {
        report("offer-received");
        this.phase = "answering";
        await this.setRemote("offer", payload.sdp);
        this.claimSenders();
        await this.pc.setLocalDescription(await this.pc.createAnswer());
        const sdp = await this.localSdp();
        this.send("answer", { sdp });
        report("answer-sent", { sdp });
        this.sdpGone();
        break;
      }
    }
    this.negotiated = true;
    for (const msg of this.inbox.splice(0)) {
      if (msg === null) { this.inbox.push(null); break; }
      if (msg.type === "ice") await this.addRemoteIce((msg.payload || {}).candidate);
    }
  }

  // Signaling after the first offer/answer: trickled candidates, ICE restarts.
  async onLateMessage(msg) {
    const payload = msg.payload || {};
    if (msg.type === "ice") { await this.addRemoteIce(payload.candidate); return; }
    if (msg.type === "offer" && this.role === "callee") {
      report("restart-offer-received");
      this.haveRemote = false;
      await this.setRemote("offer", payload.sdp);
      this.sdpSent = false;
      await this.pc.setLocalDescription(await this.pc.createAnswer());
      this.send("answer", { sdp: await this.localSdp() });
      this.sdpGone();
    } else if (msg.type === "answer" && this.role === "caller" && this.restarting) {
      await this.setRemote("answer", payload.sdp);
      this.restarting = false;
    }
  }

  async restartIce() {
    this.restarting = true;
    report("ice-restart");
    this.sdpSent = false;
    this.haveRemote = false;
    await this.pc.setLocalDescription(await this.pc.createOffer({ iceRestart: true }));
    this.send("offer", { sdp: await this.localSdp() });
    this.sdpGone();
  }

  // ------------------------------------------------------------------ data channel
  useChannel(channel) {
    this.channel = channel;
    channel.binaryType = "arraybuffer";
    if (channel.readyState === "open") this.channelOpen.open();
    channel.onopen = () => this.channelOpen.open();
    channel.onmessage = (ev) => this.onChannelMessage(ev.data);
  }

  onChannelMessage(data) {
    this.channelHeard.open();
    const isText = typeof data === "string";
    const text = isText ? data : new TextDecoder().decode(data);
    let msg;
    try { msg = JSON.parse(text); } catch { log(`data channel: not a probe: ${text.slice(0, 60)}`); return; }
    if (!msg || typeof msg !== "object") return;
    if (msg.from !== this.name && msg.tag === MEDIA_TAG) { this.mediaHeard.open(); return; }
    if (msg.from !== this.name && msg.tag === DONE_TAG) { this.doneHeard.open(); return; }
    if (msg.tag !== PROBE_TAG) return;
    if (msg.from !== this.name && !msg.echo) {
      msg.echo = true;
      const out = JSON.stringify(msg);
      this.channel.send(isText ? out : new TextEncoder().encode(out));
      return;
    }
    const original = this.sent.get(msg.seq);
    const intact = original && (original.kind === "text") === isText
      && JSON.stringify({ ...msg, echo: false }) === JSON.stringify(original);
    if (intact) this.echoed.add(original.seq);
    else log(`data channel: echo altered: ${text.slice(0, 80)}`);
    if (this.sent.size && this.echoed.size === this.sent.size) this.echoesDone.open();
  }

  sendProbes(count = 3) {
    for (let seq = 0; seq < 2 * count; seq++) {
      const kind = seq < count ? "text" : "binary";
      // key order as aiortc's probes, so echoes compare equal there too
      const probe = { tag: PROBE_TAG, from: this.name, seq, kind, echo: false, body: hex(256) };
      this.sent.set(seq, probe);
      const text = JSON.stringify(probe);
      this.channel.send(kind === "text" ? text : new TextEncoder().encode(text));
    }
  }

  tell(tag) { if (this.channel && this.channel.readyState === "open") this.channel.send(JSON.stringify({ tag, from: this.name })); }

  // ------------------------------------------------------------------ stats
  async stats() { return statsList(await this.pc.getStats()); }

  async frames() {
    let audio = 0, video = 0;
    for (const s of await this.stats()) {
      if (s.type !== "inbound-rtp") continue;
      if (s.kind === "audio") audio += Math.floor(Math.max(0, (s.totalSamplesReceived || 0) - (s.concealedSamples || 0)) / 960);
      if (s.kind === "video") video += s.framesDecoded || 0;
    }
    return { audio, video };
  }

  startPolling() {
    let lastSample = 0;
    this.poller = setInterval(async () => {
      let list;
      try { list = await this.stats(); } catch { return; }
      const transport = list.find((s) => s.type === "transport");
      const id = transport && transport.selectedCandidatePairId;
      if (id && id !== this.lastPairId) {
        this.lastPairId = id;
        const pair = list.find((s) => s.id === id);
        const local = pair && list.find((s) => s.id === pair.localCandidateId);
        const remote = pair && list.find((s) => s.id === pair.remoteCandidateId);
        if (local && remote) report("pair", { local, remote });
      }
      if (now() - lastSample >= SAMPLE_EVERY - 0.05) {
        lastSample = now();
        const rtp = list.filter((s) => s.type === "outbound-rtp" || s.type === "inbound-rtp")
          .map((s) => ({ type: s.type, kind: s.kind, timestamp: s.timestamp, bytesSent: s.bytesSent,
            packetsSent: s.packetsSent, packetsReceived: s.packetsReceived }));
        report("sample", { rtp });
      }
    }, PAIR_POLL * 1000);
  }

  // ------------------------------------------------------------------ phases
  async waitConnected(deadline) {
    this.phase = "ICE connectivity checks";
    await Promise.race([this.connected, this.failed, sleep(Math.max(deadline - now(), 0))]);
    if (this.connected.isOpen) return;
    const s = this.pc.iceConnectionState;
    if (s === "failed") throw new Failed("ICE failed: no candidate pair succeeded");
    if (s === "connected" || s === "completed") throw new Failed(`DTLS handshake did not complete (connection ${this.pc.connectionState})`);
    throw new Failed(`ICE checks did not complete within ${this.cfg.connect_timeout} s (ice ${s})`);
  }

  ended() { return this.peerLeft.isOpen || this.failed.isOpen; }

  async waitMedia(tMedia) {
    const deadline = tMedia + this.cfg.duration + MEDIA_GRACE;
    while (!this.ended()) {
      const f = await this.frames();
      const local = f.audio > 0 && f.video > 0;
      if (local && !this.mediaTold && this.channel && this.channel.readyState === "open") {
        this.tell(MEDIA_TAG); this.mediaTold = true;
      }
      const t = now();
      if ((local && this.mediaHeard.isOpen && t >= tMedia + this.cfg.duration) || t >= deadline) return;
      await sleep(0.1);
    }
  }

  async media() {
    this.phase = "media";
    if (!await within(this.channelOpen, CHANNEL_OPEN_TIMEOUT)) log("data channel 'metadata' did not open");
    // The callee's channel (announced by the caller's DCEP OPEN) may read `open` in the page
    // a moment before libwebrtc's SCTP side takes data: a send then fails ("Send failed
    // INVALID_STATE" in Chromium's log, no exception) and the probe is lost (seen once in a
    // chromium matrix). So the callee sends its probes once the caller's first arrived.
    if (this.channelOpen.isOpen && this.role === "callee") await within(this.channelHeard, CHANNEL_OPEN_TIMEOUT);
    if (this.channelOpen.isOpen) this.sendProbes();
    const tMedia = now();
    await this.waitMedia(tMedia);
    if (this.failed.isOpen) throw new Failed(`connection lost during media (ice ${this.pc.iceConnectionState}, connection ${this.pc.connectionState})`);
    if (this.sent.size && !this.peerLeft.isOpen) await within(this.echoesDone, ECHO_GRACE);
    if (this.channel && this.channel.readyState === "open") {
      this.phase = "waiting for the peer to finish its checks";
      this.tell(DONE_TAG);
      if (!await within(Promise.race([this.doneHeard, this.peerLeft, this.failed]), DONE_GRACE)) {
        report("warning", { text: `the peer did not say it was done within ${DONE_GRACE} s` });
      }
    }
  }

  async run() {
    const t0 = now();
    const deadline = t0 + this.cfg.connect_timeout;
    this.role = this.cfg.role;
    // The devices open while the page joins and negotiates: the transceivers exist from the
    // start and get their tracks when the devices are open (replaceTrack needs no new offer),
    // so a browser's slow start of its fake devices is off the call's path.
    const tracks = devices.then((stream) => this.useDevices(stream));
    tracks.catch(() => {});  // awaited below; a failure there is the call's reason
    this.phase = "connecting to the signaling server";
    await this.connectSignaling(deadline);
    log(`signaling connected (page time ${now().toFixed(3)} s)`);
    this.setup();
    await this.negotiate(deadline);
    this.phase = "opening the media devices";
    await tracks;
    await this.waitConnected(deadline);
    report("connected");
    this.startPolling();
    await this.media();
  }

  // The sending side of every transceiver, ready for its track: the caller's own (made in
  // setup), the callee's once the offer made them (JSEP pairs an offer's m-sections only
  // with addTrack's transceivers, so the callee cannot make them itself without a track).
  claimSenders() {
    const stream = new MediaStream();  // the msid both tracks share, as with addTrack
    this.senders = {};
    for (const t of this.pc.getTransceivers()) {
      const kind = t.receiver.track.kind;
      if (this.senders[kind]) continue;
      t.direction = "sendrecv";
      t.sender.setStreams(stream);
      this.senders[kind] = t.sender;
    }
    this.ready.open();
  }

  async useDevices(stream) {
    log(`media devices open (page time ${now().toFixed(3)} s)`);
    const [w, h] = this.cfg.video_size;
    for (const t of stream.getVideoTracks()) await t.applyConstraints({ width: w, height: h, frameRate: 30 });
    if (this.cfg.video === "noise") replaceWithNoise(stream, w, h);
    await this.ready;  // the transceivers
    for (const t of stream.getTracks()) if (this.senders[t.kind]) await this.senders[t.kind].replaceTrack(t);
  }

  async finish(reason) {
    clearInterval(this.poller);
    let final = [];
    try { final = await this.stats(); } catch (e) { report("warning", { text: `getStats failed: ${e}` }); }
    const f = this.pc ? await this.frames().catch(() => ({ audio: 0, video: 0 })) : { audio: 0, video: 0 };
    report("final", {
      reason,
      stats: final,
      media: { audio_frames: f.audio, video_frames: f.video, data_sent: this.sent.size, data_echoed: this.echoed.size },
      local_sdp: this.pc && this.pc.localDescription ? this.pc.localDescription.sdp : "",
      remote_sdp: this.remoteSdp,
      phase: this.phase,
      ice_state: this.pc ? this.pc.iceConnectionState : "new",
    });
    this.send("leave");
    if (this.pc) this.pc.close();
  }
}

// With max-bundle, libwebrtc writes candidates only in the first bundled m-section (RFC 8843's
// tagged section). aiortc 1.16 reads the candidates of the *last* m-section of each ICE
// transport (rtcpeerconnection.py: iceCandidates[iceTransport] = media, last wins), so it
// would start ICE with no remote candidate and only answer checks. A full SDP for a kind
// that takes no trickle therefore repeats the tagged section's candidates (and its
// end-of-candidates) in every other bundled section that has none: still valid SDP, which
// RFC 8843 receivers ignore in non-tagged sections.
function candidatesInEverySection(sdp) {
  const lines = sdp.split("\r\n");
  const group = lines.find((l) => l.startsWith("a=group:BUNDLE "));
  if (!group) return sdp;
  const bundled = new Set(group.slice("a=group:BUNDLE ".length).trim().split(/\s+/));
  const sections = [[]];
  for (const l of lines) {
    if (l.startsWith("m=")) sections.push([]);
    sections[sections.length - 1].push(l);
  }
  const mid = (sec) => { const m = sec.find((l) => l.startsWith("a=mid:")); return m && m.slice(6); };
  const media = sections.slice(1).filter((sec) => bundled.has(mid(sec)));
  if (!media.length) return sdp;
  const copied = media[0].filter((l) => l.startsWith("a=candidate:") || l === "a=end-of-candidates");
  for (const sec of media.slice(1)) {
    if (sec.some((l) => l.startsWith("a=candidate:"))) continue;
    const end = sec[sec.length - 1] === "" ? sec.length - 1 : sec.length;  // keep the final CRLF
    sec.splice(end, 0, ...copied);
  }
  return sections.flat().join("\r\n");
}

// --video noise: random luma from a canvas (the sender wants all the bitrate it may have).
function replaceWithNoise(stream, w, h) {
  const canvas = document.getElementById("noise");
  canvas.width = w; canvas.height = h;
  const g = canvas.getContext("2d");
  const img = g.createImageData(w, h);
  setInterval(() => {
    const d = img.data;
    for (let i = 0; i < d.length; i += 4) { const v = 100 + (Math.random() * 32 | 0); d[i] = d[i + 1] = d[i + 2] = v; d[i + 3] = 255; }
    g.putImageData(img, 0, 0);
  }, 33);
  const [old] = stream.getVideoTracks();
  stream.removeTrack(old); old.stop();
  stream.addTrack(canvas.captureStream(30).getVideoTracks()[0]);
}

ctl.onmessage = async (ev) => {
  const cfg = JSON.parse(ev.data);
  const call = new Call(cfg);
  let reason = null;
  const limit = cfg.connect_timeout + cfg.duration + CHANNEL_OPEN_TIMEOUT + MEDIA_GRACE + ECHO_GRACE + DONE_GRACE;
  try {
    const timer = sleep(limit).then(() => { throw new Failed(`timed out after ${limit} s (${call.phase})`); });
    await Promise.race([call.run(), timer]);
  } catch (e) {
    reason = e instanceof Failed ? e.message : `internal error during ${call.phase}: ${e && e.name}: ${e && e.message}`;
  }
  await call.finish(reason);
};
ctl.onopen = () => report("hello", { userAgent: navigator.userAgent });
