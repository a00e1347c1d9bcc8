import Policies
