import AdLoadCore
