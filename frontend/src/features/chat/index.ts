import type { Feature } from '../registry'
import ModeratorChat from './ModeratorChat.vue'
import ModeratorConsole from './ModeratorConsole.vue'
import PollsPanel from './PollsPanel.vue'
import ReactionsBar from './ReactionsBar.vue'
import ScreenQuestion from './ScreenQuestion.vue'
import SpeakerQuestions from './SpeakerQuestions.vue'
import StageChat from './StageChat.vue'
import StageQA from './StageQA.vue'
import { setupChat } from './store'

const feature: Feature = {
  name: 'chat',
  panels: [
    { id: 'chat.reactions', view: 'stage', area: 'main', order: 50, component: ReactionsBar },
    { id: 'chat.qa', view: 'stage', area: 'side', order: 10, component: StageQA },
    { id: 'chat.polls', view: 'stage', area: 'side', order: 20, component: PollsPanel },
    { id: 'chat.chat', view: 'stage', area: 'side', order: 30, component: StageChat },
    { id: 'chat.speaker-questions', view: 'speaker', area: 'main', order: 10, component: SpeakerQuestions },
    { id: 'chat.moderator-console', view: 'moderator', area: 'main', order: 10, component: ModeratorConsole },
    { id: 'chat.moderator-chat', view: 'moderator', area: 'side', order: 10, component: ModeratorChat },
    { id: 'chat.screen', view: 'screen', area: 'main', order: 10, component: ScreenQuestion },
  ],
  setup(client) {
    setupChat(client)
  },
}

export default feature
