/**
 * How a room's media travels. Today: a browser mesh (one RTCPeerConnection per other person,
 * "perfect negotiation"). Rooms beyond the mesh limit will use the stage relay (an SFU) in a
 * later issue: it implements the same interface, so the room panel does not change.
 */
export interface SignalBody {
  description?: { type: 'offer' | 'answer' | 'rollback'; sdp: string }
  candidate?: { candidate: string; sdpMid: string | null; sdpMLineIndex: number | null; usernameFragment?: string | null }
}

export interface MediaTransport {
  /** Connect to the people already in the call (we offer; they answer). */
  connect(peerIds: number[]): void
  /** A signal relayed by the server from a peer in our room. */
  receive(from: number, body: SignalBody): Promise<void>
  /** A peer left the call (moved, closed, gone): drop its connection. */
  drop(peerId: number): void
  /** Replace what we send (camera ↔ screen, or a new stream). */
  setLocalStream(stream: MediaStream | null): void
  replaceVideoTrack(track: MediaStreamTrack | null): Promise<void>
  close(): void
  onRemoteStream: (peerId: number, stream: MediaStream | null) => void
}

/** Hands a signal to the server without waiting: perfect negotiation never waits for the relay. */
type Send = (to: number, body: SignalBody) => void

class MeshPeer {
  readonly pc: RTCPeerConnection
  private makingOffer = false
  private ignoreOffer = false
  private readonly polite: boolean

  constructor(
    readonly peerId: number,
    selfId: number,
    iceServers: RTCIceServer[],
    private readonly send: Send,
    onStream: (stream: MediaStream | null) => void,
  ) {
    // Perfect negotiation: on glare the polite side (the higher id) rolls back its offer.
    this.polite = selfId > peerId
    this.pc = new RTCPeerConnection({ iceServers })
    this.pc.onnegotiationneeded = async () => {
      try {
        this.makingOffer = true
        await this.pc.setLocalDescription()
        const d = this.pc.localDescription
        if (d) this.send(peerId, { description: { type: d.type as 'offer', sdp: d.sdp } })
      } catch (error) {
        console.warn('rooms: offer failed', error)
      } finally {
        this.makingOffer = false
      }
    }
    this.pc.onicecandidate = ({ candidate }) => {
      if (!candidate || !candidate.candidate) return
      const c = candidate.toJSON()
      this.send(peerId, {
        candidate: {
          candidate: c.candidate ?? '',
          sdpMid: c.sdpMid ?? null,
          sdpMLineIndex: c.sdpMLineIndex ?? null,
          usernameFragment: c.usernameFragment ?? null,
        },
      })
    }
    this.pc.ontrack = ({ streams }) => onStream(streams[0] ?? null)
    this.pc.onconnectionstatechange = () => {
      // An ICE restart recovers a path that broke (Wi-Fi switch) without leaving the room.
      if (this.pc.connectionState === 'failed') this.pc.restartIce()
    }
  }

  addStream(stream: MediaStream | null): void {
    if (!stream) return
    const sending = new Set(this.pc.getSenders().map((s) => s.track))
    for (const track of stream.getTracks()) if (!sending.has(track)) this.pc.addTrack(track, stream)
  }

  /** No camera or microphone: still ask for the others' media. */
  receiveOnly(): void {
    if (this.pc.getTransceivers().length) return
    this.pc.addTransceiver('audio', { direction: 'recvonly' })
    this.pc.addTransceiver('video', { direction: 'recvonly' })
  }

  async receive(body: SignalBody): Promise<void> {
    if (body.description) {
      const description = body.description
      const collision = description.type === 'offer' && (this.makingOffer || this.pc.signalingState !== 'stable')
      this.ignoreOffer = !this.polite && collision
      if (this.ignoreOffer) return
      await this.pc.setRemoteDescription(description)
      if (description.type === 'offer') {
        await this.pc.setLocalDescription()
        const d = this.pc.localDescription
        if (d) this.send(this.peerId, { description: { type: d.type as 'answer', sdp: d.sdp } })
      }
    } else if (body.candidate) {
      try {
        await this.pc.addIceCandidate(body.candidate)
      } catch (error) {
        if (!this.ignoreOffer) throw error
      }
    }
  }
}

export class MeshTransport implements MediaTransport {
  private readonly peers = new Map<number, MeshPeer>()
  private stream: MediaStream | null = null
  onRemoteStream: (peerId: number, stream: MediaStream | null) => void = () => undefined

  constructor(
    private readonly selfId: number,
    private readonly iceServers: RTCIceServer[],
    private readonly send: Send,
  ) {}

  private peer(peerId: number): MeshPeer {
    let peer = this.peers.get(peerId)
    if (!peer) {
      peer = new MeshPeer(peerId, this.selfId, this.iceServers, this.send, (s) => this.onRemoteStream(peerId, s))
      this.peers.set(peerId, peer)
    }
    return peer
  }

  connect(peerIds: number[]): void {
    // Adding our tracks fires negotiationneeded: that is our offer.
    for (const id of peerIds) {
      if (this.stream) this.peer(id).addStream(this.stream)
      else this.peer(id).receiveOnly()
    }
  }

  async receive(from: number, body: SignalBody): Promise<void> {
    const known = this.peers.has(from)
    const peer = this.peer(from)
    await peer.receive(body)
    // Someone new offered: answer first, then send our media too (a renegotiation).
    if (!known) peer.addStream(this.stream)
  }

  drop(peerId: number): void {
    const peer = this.peers.get(peerId)
    if (!peer) return
    peer.pc.close()
    this.peers.delete(peerId)
    this.onRemoteStream(peerId, null)
  }

  setLocalStream(stream: MediaStream | null): void {
    this.stream = stream
    for (const peer of this.peers.values()) peer.addStream(stream)
  }

  async replaceVideoTrack(track: MediaStreamTrack | null): Promise<void> {
    for (const peer of this.peers.values()) {
      const sender = peer.pc.getSenders().find((s) => s.track?.kind === 'video' || (!s.track && track))
      if (sender) await sender.replaceTrack(track)
    }
  }

  close(): void {
    for (const id of [...this.peers.keys()]) this.drop(id)
  }
}
